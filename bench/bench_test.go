package bench

import (
	"context"
	"testing"

	"github.com/tta-dev/tta"
)

// Every case runs each implementation as a sub-benchmark named after it, so
// that `go test -bench` prints them side by side and cmd/benchtable can divide
// one by another. Whatever is built once (policies, executors, decorators) is
// built before the loop.

func BenchmarkRetryHappy(b *testing.B) {
	ctx := context.Background()
	b.Run("tta", func(b *testing.B) {
		p := ttaRetry(tta.Func[int, int](op))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Execute(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		ex := failsafeRetry()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ex.Get(failsafeOp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backoff", func(b *testing.B) {
		fn := func() (int, error) { return op(ctx, 1) }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := backoffRetry(fn); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRetryOneFailure(b *testing.B) {
	ctx := context.Background()
	b.Run("tta", func(b *testing.B) {
		f := new(flaky)
		p := ttaRetryNoDelay(tta.Func[int, int](f.call))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Execute(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		f := new(flaky)
		ex := failsafeRetryNoDelay()
		fn := func() (int, error) { return f.call(ctx, 1) }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ex.Get(fn); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backoff", func(b *testing.B) {
		f := new(flaky)
		fn := func() (int, error) { return f.call(ctx, 1) }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := backoffRetryNoDelay(fn); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTimeoutHappy(b *testing.B) {
	ctx := context.Background()
	b.Run("tta", func(b *testing.B) {
		p := ttaTimeout(tta.Func[int, int](op))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Execute(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		ex := failsafeTimeout()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ex.GetWithExecution(failsafeOpCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := stdlibTimeout(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkChain4(b *testing.B) {
	ctx := context.Background()
	b.Run("tta", func(b *testing.B) {
		p := ttaChain4()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Execute(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		ex := failsafeChain4()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ex.GetWithExecution(failsafeOpCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCacheHit(b *testing.B) {
	ctx := context.Background()
	b.Run("tta", func(b *testing.B) {
		p := ttaCache()
		if _, err := p.Execute(ctx, 1); err != nil { // fill the entry
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Execute(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkParallel8(b *testing.B) {
	ctx := context.Background()
	b.Run("tta", func(b *testing.B) {
		p := ttaParallel8()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Execute(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("errgroup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := errgroupParallel8(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
