package main

import (
	"strings"
	"testing"
	"testing/synctest"
)

func TestRunRetriesThenAnswersWithEveryTool(t *testing.T) {
	var out strings.Builder
	synctest.Test(t, func(t *testing.T) { // backoff sleeps run in fake time
		if err := run(&out); err != nil {
			t.Fatalf("run: %v", err)
		}
	})
	got := out.String()
	for _, want := range []string{
		"retry: attempt 1 failed (model overloaded (503)), next in 10ms",
		"retry: attempt 2 failed (model overloaded (503)), next in 20ms",
		"answer:   [math] large-model answer to what is 6*7? using search(math), calculator(math), notes(math)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q; got:\n%s", want, got)
		}
	}
	if strings.Contains(got, "attempt 3") {
		t.Errorf("third attempt should have succeeded; got:\n%s", got)
	}
}
