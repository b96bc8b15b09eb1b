package ttatemporal

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
)

type (
	activityInfo  = activity.Info
	encodedValues = converter.EncodedValues
)

// quietSuite returns a test suite whose environments drop the SDK's logs:
// activities of these tests fail on purpose, and the SDK logs every failure.
func quietSuite() *testsuite.WorkflowTestSuite {
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(quietLogger())
	return s
}
