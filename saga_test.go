package tta

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sagaLog records what a saga's steps and compensations did, in order.
type sagaLog struct {
	mu      sync.Mutex // protects entries
	entries []string
}

func (l *sagaLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, fmt.Sprintf(format, args...))
}

func (l *sagaLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.entries...)
}

// logStep is a step that adds n to the state, or fails with doErr; its
// compensation logs the state it got and fails with compErr.
func logStep(log *sagaLog, name string, n int, doErr, compErr error) SagaStep[int] {
	return SagaStep[int]{
		Name: name,
		Do: Func[int, int](func(ctx context.Context, in int) (int, error) {
			if doErr != nil {
				log.add("do %s(%d): %v", name, in, doErr)
				return 0, doErr
			}
			log.add("do %s(%d)", name, in)
			return in + n, nil
		}),
		Compensate: func(ctx context.Context, state int) error {
			log.add("undo %s(%d)", name, state)
			return compErr
		},
	}
}

func TestSaga(t *testing.T) {
	errUndo := errors.New("undo failed")
	errUndo2 := errors.New("undo failed too")
	tests := []struct {
		name      string
		steps     func(log *sagaLog) []SagaStep[int]
		want      int
		wantLog   []string
		wantStep  string
		wantComps []error
		wantMsg   string
	}{
		{
			name:    "empty returns its input",
			steps:   func(*sagaLog) []SagaStep[int] { return nil },
			want:    1,
			wantLog: nil,
		},
		{
			name: "all succeed: output chains, nothing undone",
			steps: func(l *sagaLog) []SagaStep[int] {
				return []SagaStep[int]{logStep(l, "a", 10, nil, nil), logStep(l, "b", 100, nil, nil)}
			},
			want:    111,
			wantLog: []string{"do a(1)", "do b(11)"},
		},
		{
			name: "first step fails: nothing to undo",
			steps: func(l *sagaLog) []SagaStep[int] {
				return []SagaStep[int]{logStep(l, "a", 10, errBoom, nil), logStep(l, "b", 100, nil, nil)}
			},
			wantLog:  []string{"do a(1): boom"},
			wantStep: "a",
			wantMsg:  `tta: saga step "a" failed: boom`,
		},
		{
			name: "last step fails: completed steps undone in reverse, each with the state it produced",
			steps: func(l *sagaLog) []SagaStep[int] {
				return []SagaStep[int]{
					logStep(l, "a", 10, nil, nil),
					logStep(l, "b", 100, nil, nil),
					logStep(l, "c", 1000, errBoom, nil),
				}
			},
			wantLog:  []string{"do a(1)", "do b(11)", "do c(111): boom", "undo b(111)", "undo a(11)"},
			wantStep: "c",
			wantMsg:  `tta: saga step "c" failed: boom`,
		},
		{
			name: "steps after the failed one neither run nor are undone",
			steps: func(l *sagaLog) []SagaStep[int] {
				return []SagaStep[int]{
					logStep(l, "a", 10, nil, nil),
					logStep(l, "b", 100, errBoom, nil),
					logStep(l, "c", 1000, nil, nil),
				}
			},
			wantLog:  []string{"do a(1)", "do b(11): boom", "undo a(11)"},
			wantStep: "b",
			wantMsg:  `tta: saga step "b" failed: boom`,
		},
		{
			name: "nil Compensate is skipped",
			steps: func(l *sagaLog) []SagaStep[int] {
				b := logStep(l, "b", 100, nil, nil)
				b.Compensate = nil
				return []SagaStep[int]{logStep(l, "a", 10, nil, nil), b, logStep(l, "c", 1000, errBoom, nil)}
			},
			wantLog:  []string{"do a(1)", "do b(11)", "do c(111): boom", "undo a(11)"},
			wantStep: "c",
			wantMsg:  `tta: saga step "c" failed: boom`,
		},
		{
			name: "failed compensations do not stop the others",
			steps: func(l *sagaLog) []SagaStep[int] {
				return []SagaStep[int]{
					logStep(l, "a", 10, nil, errUndo),
					logStep(l, "b", 100, nil, nil),
					logStep(l, "c", 1000, nil, errUndo2),
					logStep(l, "d", 10000, errBoom, nil),
				}
			},
			wantLog:   []string{"do a(1)", "do b(11)", "do c(111)", "do d(1111): boom", "undo c(1111)", "undo b(111)", "undo a(11)"},
			wantStep:  "d",
			wantComps: []error{errUndo2, errUndo},
			wantMsg:   `tta: saga step "d" failed: boom; compensate "c": undo failed too; compensate "a": undo failed`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &sagaLog{}
			got, err := Saga(tt.steps(log)...).Execute(t.Context(), 1)
			assert.Equal(t, tt.wantLog, log.get())
			if tt.wantStep == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			assert.Zero(t, got)
			var se *SagaError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.wantStep, se.Step)
			assert.Same(t, errBoom, se.Err)
			assert.ErrorIs(t, err, errBoom)
			assert.EqualError(t, err, tt.wantMsg)
			require.Len(t, se.Compensations, len(tt.wantComps))
			for i, want := range tt.wantComps {
				assert.ErrorIs(t, se.Compensations[i], want)
				assert.ErrorIs(t, err, want)
			}
		})
	}
}

func TestSagaCompensationErrorNamesItsStep(t *testing.T) {
	errUndo := errors.New("undo failed")
	log := &sagaLog{}
	_, err := Saga(logStep(log, "reserve", 1, nil, errUndo), logStep(log, "charge", 1, errBoom, nil)).Execute(t.Context(), 0)
	var se *SagaError
	require.ErrorAs(t, err, &se)
	require.Len(t, se.Compensations, 1)
	assert.EqualError(t, se.Compensations[0], `tta: saga: compensate "reserve": undo failed`)
}

func TestSagaCompensatesEvenWhenTheCallerCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		ctx, cancel := context.WithCancel(context.WithValue(t.Context(), key{}, "kept"))
		var compCtx context.Context
		steps := []SagaStep[int]{
			{
				Name: "create sandbox",
				Do:   plus(1),
				Compensate: func(ctx context.Context, state int) error {
					compCtx = ctx
					return ctx.Err()
				},
			},
			{
				Name: "run code",
				Do: Func[int, int](func(ctx context.Context, in int) (int, error) {
					cancel()
					return blockUntilDone.Execute(ctx, in)
				}),
			},
		}
		start := time.Now()
		_, err := Saga(steps...).Execute(ctx, 0)
		var se *SagaError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "run code", se.Step)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, se.Compensations, "the compensation saw a live context")

		require.NotNil(t, compCtx)
		assert.Equal(t, "kept", compCtx.Value(key{}), "compensations keep the caller's values")
		deadline, ok := compCtx.Deadline()
		require.True(t, ok)
		assert.Equal(t, DefaultCompensateTimeout, deadline.Sub(start))
		assert.Error(t, compCtx.Err(), "the compensation's context is cancelled once it returns")
	})
}

func TestSagaCompensationTimeout(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		want    time.Duration
	}{
		{name: "default", timeout: 0, want: 30 * time.Second},
		{name: "custom", timeout: 5 * time.Second, want: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var ranAfter time.Duration
				start := time.Now()
				steps := []SagaStep[int]{
					{
						Name: "first",
						Do:   plus(1),
						Compensate: func(ctx context.Context, state int) error {
							ranAfter = time.Since(start)
							return nil
						},
					},
					{
						Name: "hangs on undo",
						Do:   plus(1),
						Compensate: func(ctx context.Context, state int) error {
							<-ctx.Done()
							return ctx.Err()
						},
						CompensateTimeout: tt.timeout,
					},
					{Name: "fails", Do: failWith(errBoom)},
				}
				_, err := Saga(steps...).Execute(t.Context(), 0)
				var se *SagaError
				require.ErrorAs(t, err, &se)
				require.Len(t, se.Compensations, 1)
				assert.ErrorIs(t, se.Compensations[0], context.DeadlineExceeded)
				assert.Equal(t, tt.want, ranAfter, "the next compensation runs once the hung one timed out")
				assert.Equal(t, tt.want, time.Since(start))
			})
		})
	}
}

func TestSagaDoesNotStartStepsOnceTheContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	cause := errors.New("shutting down")
	log := &sagaLog{}
	first := logStep(log, "a", 10, nil, nil)
	inner := first.Do
	first.Do = Func[int, int](func(ctx context.Context, in int) (int, error) {
		out, err := inner.Execute(ctx, in)
		cancel(cause)
		return out, err
	})
	_, err := Saga(first, logStep(log, "b", 100, nil, nil)).Execute(ctx, 1)
	var se *SagaError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "b", se.Step)
	assert.Same(t, cause, se.Err)
	assert.Equal(t, []string{"do a(1)", "undo a(11)"}, log.get())
}

func TestSagaPanicInStepCompensatesAndRepanics(t *testing.T) {
	log := &sagaLog{}
	s := Saga(
		logStep(log, "a", 10, nil, nil),
		logStep(log, "b", 100, nil, errBoom), // its compensation error is dropped
		SagaStep[int]{Name: "c", Do: Func[int, int](func(ctx context.Context, in int) (int, error) {
			panic("step c exploded")
		})},
	)
	assert.PanicsWithValue(t, "step c exploded", func() { _, _ = s.Execute(t.Context(), 1) })
	assert.Equal(t, []string{"do a(1)", "do b(11)", "undo b(111)", "undo a(11)"}, log.get())
}

func TestSagaPanicInCompensationBecomesAnError(t *testing.T) {
	log := &sagaLog{}
	a := logStep(log, "a", 10, nil, nil)
	b := logStep(log, "b", 100, nil, nil)
	b.Compensate = func(ctx context.Context, state int) error { panic("undo exploded") }
	_, err := Saga(a, b, logStep(log, "c", 1000, errBoom, nil)).Execute(t.Context(), 1)
	var se *SagaError
	require.ErrorAs(t, err, &se)
	require.Len(t, se.Compensations, 1)
	var pe *PanicError
	require.ErrorAs(t, se.Compensations[0], &pe)
	assert.Equal(t, "undo exploded", pe.Value)
	assert.EqualError(t, err, `tta: saga step "c" failed: boom; compensate "b": tta: panic: undo exploded`)
	assert.Equal(t, []string{"do a(1)", "do b(11)", "do c(111): boom", "undo a(11)"}, log.get(), "a is still undone")
}

func TestSagaCopiesSteps(t *testing.T) {
	steps := []SagaStep[int]{{Name: "a", Do: plus(1)}}
	s := Saga(steps...)
	steps[0].Do = plus(100)
	got, err := s.Execute(t.Context(), 0)
	require.NoError(t, err)
	assert.Equal(t, 1, got)
}

func TestSagaIsSafeForConcurrentUse(t *testing.T) {
	log := &sagaLog{}
	s := Saga(logStep(log, "a", 10, nil, nil), SagaStep[int]{
		Name: "odd fails",
		Do: Func[int, int](func(ctx context.Context, in int) (int, error) {
			if in%2 == 1 {
				return 0, errBoom
			}
			return in, nil
		}),
	})
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			got, err := s.Execute(t.Context(), i)
			if i%2 == 1 { // a adds 10, which keeps the parity
				assert.ErrorIs(t, err, errBoom)
			} else {
				assert.NoError(t, err)
				assert.Equal(t, i+10, got)
			}
		})
	}
	wg.Wait()
	undone := 0
	for _, e := range log.get() {
		if len(e) > 4 && e[:4] == "undo" {
			undone++
		}
	}
	assert.Equal(t, 5, undone)
}

func TestSagaMisuse(t *testing.T) {
	ok := SagaStep[int]{Name: "a", Do: plus(1)}
	assert.PanicsWithValue(t,
		"tta: Saga: second step has an empty Name; name every step so a SagaError can say which one failed",
		func() { Saga(ok, SagaStep[int]{Do: plus(1)}) })
	assert.PanicsWithValue(t,
		`tta: Saga: third step has the Name "a" of the first step; step names must be unique`,
		func() { Saga(ok, SagaStep[int]{Name: "b", Do: plus(1)}, ok) })
	assert.PanicsWithValue(t,
		`tta: Saga: Do of step "b" is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)`,
		func() { Saga(ok, SagaStep[int]{Name: "b"}) })
	assert.PanicsWithValue(t,
		`tta: Saga: Do of step "b" is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)`,
		func() { Saga(SagaStep[int]{Name: "b", Do: Func[int, int](nil)}) })
	assert.PanicsWithValue(t,
		`tta: Saga: CompensateTimeout of step "a" is -1s; it must be >= 0 (0 means 30s)`,
		func() { Saga(SagaStep[int]{Name: "a", Do: plus(1), CompensateTimeout: -time.Second}) })
}
