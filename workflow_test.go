package tta

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkflow(t *testing.T) {
	tests := []struct {
		name   string
		ctx    func(context.Context) context.Context
		want   Workflow
		wantOK bool
	}{
		{name: "none", ctx: func(ctx context.Context) context.Context { return ctx }, want: Workflow{}, wantOK: false},
		{
			name:   "zero workflow is still present",
			ctx:    func(ctx context.Context) context.Context { return WithWorkflow(ctx, Workflow{}) },
			want:   Workflow{},
			wantOK: true,
		},
		{
			name: "all fields",
			ctx: func(ctx context.Context) context.Context {
				return WithWorkflow(ctx, Workflow{ID: "w", RunID: "r1", Metadata: map[string]string{"team": "ml"}})
			},
			want:   Workflow{ID: "w", RunID: "r1", Metadata: map[string]string{"team": "ml"}},
			wantOK: true,
		},
		{
			name: "inner replaces outer",
			ctx: func(ctx context.Context) context.Context {
				ctx = WithWorkflow(ctx, Workflow{ID: "outer", Metadata: map[string]string{"a": "1"}})
				return WithWorkflow(ctx, Workflow{ID: "inner", RunID: "r2"})
			},
			want:   Workflow{ID: "inner", RunID: "r2"},
			wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := WorkflowFrom(tt.ctx(t.Context()))
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWithWorkflowCopiesMetadata(t *testing.T) {
	md := map[string]string{"team": "ml"}
	ctx := WithWorkflow(t.Context(), Workflow{ID: "w", Metadata: md})
	md["team"] = "changed"
	md["extra"] = "leaked"

	got, ok := WorkflowFrom(ctx)
	require.True(t, ok)
	assert.Equal(t, map[string]string{"team": "ml"}, got.Metadata)
}

func TestWorkflowFromReturnsACopy(t *testing.T) {
	ctx := WithWorkflow(t.Context(), Workflow{ID: "w", Metadata: map[string]string{"team": "ml"}})
	first, _ := WorkflowFrom(ctx)
	first.Metadata["team"] = "changed"
	first.ID = "changed"

	second, _ := WorkflowFrom(ctx)
	assert.Equal(t, Workflow{ID: "w", Metadata: map[string]string{"team": "ml"}}, second)
}

func TestWorkflowIsVisibleToEveryPrimitive(t *testing.T) {
	var mu sync.Mutex // protects seen
	var seen []string
	record := Func[int, int](func(ctx context.Context, in int) (int, error) {
		w, ok := WorkflowFrom(ctx)
		if !assert.True(t, ok) {
			return in, nil
		}
		w.Metadata["mutated"] = "by a branch" // must not reach the others
		mu.Lock()
		seen = append(seen, w.RunID+"/"+w.Metadata["step"])
		mu.Unlock()
		return in, nil
	})
	flow := Then(Parallel[int, int](record, record), Func[[]int, int](func(ctx context.Context, in []int) (int, error) {
		return record.Execute(ctx, len(in))
	}))
	ctx := WithWorkflow(t.Context(), Workflow{ID: "w", RunID: "r7", Metadata: map[string]string{"step": "s"}})
	_, err := flow.Execute(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"r7/s", "r7/s", "r7/s"}, seen)

	w, _ := WorkflowFrom(ctx)
	assert.Equal(t, map[string]string{"step": "s"}, w.Metadata)
}

func TestWorkflowConcurrentReaders(t *testing.T) {
	ctx := WithWorkflow(t.Context(), Workflow{ID: "w", Metadata: map[string]string{"k": "v"}})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			w, ok := WorkflowFrom(ctx)
			assert.True(t, ok)
			assert.Equal(t, "v", w.Metadata["k"])
			w.Metadata["k"] = string(rune('a' + i))
		})
	}
	wg.Wait()
	w, _ := WorkflowFrom(ctx)
	assert.Equal(t, "v", w.Metadata["k"])
}
