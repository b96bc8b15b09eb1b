package tta_test

import (
	"context"
	"fmt"

	"github.com/tta-dev/tta"
)

// Carry the workflow's identity in the context; any primitive can read it, for
// logs or for labelling the sandboxes it creates.
func ExampleWithWorkflow() {
	step := tta.Func[string, string](func(ctx context.Context, in string) (string, error) {
		w, ok := tta.WorkflowFrom(ctx)
		if !ok {
			return in, nil
		}
		return fmt.Sprintf("%s (workflow %s, run %s, team %s)", in, w.ID, w.RunID, w.Metadata["team"]), nil
	})

	ctx := tta.WithWorkflow(context.Background(), tta.Workflow{
		ID:       "nightly-eval",
		RunID:    "run-42",
		Metadata: map[string]string{"team": "ml"},
	})
	out, _ := step.Execute(ctx, "evaluate")
	fmt.Println(out)

	out, _ = step.Execute(context.Background(), "evaluate")
	fmt.Println(out)
	// Output:
	// evaluate (workflow nightly-eval, run run-42, team ml)
	// evaluate
}
