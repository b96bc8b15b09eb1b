package tta_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tta-dev/tta"
)

// run is the state a code run carries from step to step.
type run struct {
	Sandbox string
	Files   []string
}

// Create a sandbox, upload files, run the code; when running fails, the
// completed steps are undone in reverse: the files removed, the sandbox killed.
func ExampleSaga() {
	flow := tta.Saga(
		tta.SagaStep[run]{
			Name: "create sandbox",
			Do: tta.Func[run, run](func(ctx context.Context, r run) (run, error) {
				r.Sandbox = "sbx-1"
				fmt.Println("created", r.Sandbox)
				return r, nil
			}),
			Compensate: func(ctx context.Context, r run) error {
				fmt.Println("killed", r.Sandbox)
				return nil
			},
		},
		tta.SagaStep[run]{
			Name: "upload",
			Do: tta.Func[run, run](func(ctx context.Context, r run) (run, error) {
				r.Files = append(r.Files, "data.csv")
				fmt.Println("uploaded", r.Files, "to", r.Sandbox)
				return r, nil
			}),
			// Compensate gets the state this step produced.
			Compensate: func(ctx context.Context, r run) error {
				fmt.Println("removed", r.Files, "from", r.Sandbox)
				return nil
			},
		},
		tta.SagaStep[run]{
			Name: "run code",
			Do: tta.Func[run, run](func(ctx context.Context, r run) (run, error) {
				return r, errors.New("port is not open")
			}),
		},
	)

	_, err := flow.Execute(context.Background(), run{})
	fmt.Println(err)
	var se *tta.SagaError
	if errors.As(err, &se) {
		fmt.Println("failed step:", se.Step)
	}
	// Output:
	// created sbx-1
	// uploaded [data.csv] to sbx-1
	// removed [data.csv] from sbx-1
	// killed sbx-1
	// tta: saga step "run code" failed: port is not open
	// failed step: run code
}
