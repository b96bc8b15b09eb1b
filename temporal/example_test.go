package ttatemporal_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tta-dev/tta"
	ttatemporal "github.com/tta-dev/tta/temporal"
	"github.com/tta-dev/tta/ttatest"
)

// A primitive becomes an activity with one call on the worker, and the
// workflow runs it with Execute. Its Retry and Timeout become the activity's
// retry policy and start-to-close timeout. (A test environment stands in
// for the worker and the server here; on a real worker, pass the
// worker.Worker to Register.)
func ExampleRegister() {
	shout := tta.Retry(tta.Timeout(tta.Func[string, string](func(ctx context.Context, s string) (string, error) {
		return strings.ToUpper(s) + "!", nil
	}), 10*time.Second), tta.MaxAttempts(4))

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	act, err := ttatemporal.Register(env, "shout", shout)
	if err != nil {
		fmt.Println(err)
		return
	}
	o := act.Options()
	fmt.Println("start-to-close:", o.StartToCloseTimeout, "attempts:", o.RetryPolicy.MaximumAttempts)

	env.ExecuteWorkflow(func(ctx workflow.Context, in string) (string, error) {
		return act.Execute(ctx, in)
	}, "hello")
	var out string
	if err := env.GetWorkflowResult(&out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out)
	// Output:
	// start-to-close: 10s attempts: 4
	// HELLO!
}

// On the workflow side an activity's error is still the tta error it was:
// here code that raised, with WithCodeErrorsAsErrors, is a
// *tta.ExecutionError, and it was not retried.
func ExampleActivity_Execute_errors() {
	fake := ttatest.NewFakeProvider()
	fake.Script("1/0", ttatest.Raise("ZeroDivisionError", "division by zero"))
	code, err := tta.NewCodeExecution(tta.WithProvider(ttatemporal.HeartbeatProvider(fake)), tta.WithCodeErrorsAsErrors())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer code.Close()

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	act, err := ttatemporal.Register(env, "run-code", tta.Retry[tta.CodeInput, tta.CodeOutput](code, tta.MaxAttempts(3)))
	if err != nil {
		fmt.Println(err)
		return
	}
	env.ExecuteWorkflow(func(ctx workflow.Context) (string, error) {
		_, err := act.Execute(ctx, tta.CodeInput{Code: "1/0"})
		var raised *tta.ExecutionError
		var e *ttatemporal.Error
		if errors.As(err, &raised) && errors.As(err, &e) {
			return fmt.Sprintf("%s: %s (type %s, retryable %v)", raised.Name, raised.Value, e.Type, e.Retryable), nil
		}
		return "", err
	})
	var out string
	if err := env.GetWorkflowResult(&out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out)
	fmt.Println("runs:", fake.Calls(ttatest.OpRun))
	// Output:
	// ZeroDivisionError: division by zero (type tta.CodeFailed, retryable false)
	// runs: 1
}
