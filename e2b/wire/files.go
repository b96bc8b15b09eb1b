package wire

// FileEntry is one element of envd's answer to POST /files.
type FileEntry struct {
	// Name is the file's base name.
	Name string `json:"name"`
	// Type is "file" for uploads; envd reports no other type here.
	Type string `json:"type"`
	// Path is the file's absolute path inside the sandbox.
	Path string `json:"path"`
}
