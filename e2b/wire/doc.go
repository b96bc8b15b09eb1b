// Package wire holds the JSON shapes, headers and constants of E2B's HTTP
// protocol: the control plane (api.<domain>), the sandbox proxy's error
// answers, envd's file upload and the code interpreter's /execute and
// /contexts endpoints. Package e2b (the client) and package e2b/e2bserver
// (the server) both speak through these types, so they agree byte for byte.
//
// Field names follow E2B exactly, including its mix of camelCase and
// snake_case. The types are plain values with no behaviour beyond their JSON
// encoding; most programs use package e2b instead and never see them.
package wire
