package tta

import (
	"context"
	"fmt"
	"maps"
)

// Router chooses a primitive by input: it calls key(in) and runs the route
// registered under that key, or def when there is none.
//
// routes is copied, so changing the map afterwards does not change the Router.
// def may be nil (a typed nil such as a nil Func counts as nil): then an input
// whose key has no route fails with an error that wraps ErrNoRoute and names the
// key as formatted by %v, and nothing is run. An empty or nil routes map is
// allowed; every input then goes to def.
//
// key is called once per Execute, from the calling goroutine, and must be safe
// for concurrent use if the Router is. Router panics if key or any route is nil.
func Router[In, Out any, K comparable](key func(In) K, routes map[K]Primitive[In, Out], def Primitive[In, Out]) Primitive[In, Out] {
	if key == nil {
		misuse("Router", "key is nil; pass a func(In) K that picks the route for an input")
	}
	for k, p := range routes {
		mustNotBeNil("Router", fmt.Sprintf("route for key %v", k), p)
	}
	if isNil(def) {
		def = nil
	}
	return router[In, Out, K]{key: key, routes: maps.Clone(routes), def: def}
}

type router[In, Out any, K comparable] struct {
	key    func(In) K
	routes map[K]Primitive[In, Out] // never written after construction
	def    Primitive[In, Out]       // nil: no default
}

func (r router[In, Out, K]) Execute(ctx context.Context, in In) (_ Out, err error) {
	ctx, o := observe(ctx, spanRouter)
	defer o.end(ctx, &err)
	k := r.key(in)
	if p, ok := r.routes[k]; ok {
		return p.Execute(ctx, in)
	}
	if r.def != nil {
		return r.def.Execute(ctx, in)
	}
	var zero Out
	return zero, fmt.Errorf("%w for key %v", ErrNoRoute, k)
}

// When runs then for inputs where cond(in) is true and otherwise for the rest.
// cond is called once per Execute, from the calling goroutine, and must be safe
// for concurrent use if the result is. When In and Out are the same type, a
// primitive that returns its input makes a branch a no-op. When panics if cond,
// then or otherwise is nil.
func When[In, Out any](cond func(In) bool, then, otherwise Primitive[In, Out]) Primitive[In, Out] {
	if cond == nil {
		misuse("When", "cond is nil; pass a func(In) bool that chooses between then and otherwise")
	}
	mustNotBeNil("When", "then", then)
	mustNotBeNil("When", "otherwise", otherwise)
	return when[In, Out]{cond: cond, then: then, otherwise: otherwise}
}

type when[In, Out any] struct {
	cond            func(In) bool
	then, otherwise Primitive[In, Out]
}

func (w when[In, Out]) Execute(ctx context.Context, in In) (_ Out, err error) {
	ctx, o := observe(ctx, spanWhen)
	defer o.end(ctx, &err)
	if w.cond(in) {
		return w.then.Execute(ctx, in)
	}
	return w.otherwise.Execute(ctx, in)
}
