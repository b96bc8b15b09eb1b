package tta

import (
	"fmt"
	"reflect"
	"strconv"
)

// Constructors in this package panic on programmer misuse (a nil primitive, a
// negative duration, a zero limit) with a message that names the constructor, the
// option and the value, so the mistake surfaces at start-up and never in the hot
// path. These helpers keep those messages uniform.

// misuse panics with "tta: <where>: <what>".
func misuse(where, format string, args ...any) {
	panic(fmt.Sprintf("tta: %s: %s", where, fmt.Sprintf(format, args...)))
}

// mustNotBeNil panics when p is nil, including a typed nil (a nil Func, say).
func mustNotBeNil(where, what string, p any) {
	if isNil(p) {
		misuse(where, "%s is nil; pass a non-nil Primitive (for a plain function, wrap it in tta.Func)", what)
	}
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Func, reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

// ordinal renders a zero-based index as "first", "second", ... for messages.
func ordinal(i int) string {
	names := [...]string{"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"}
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return "#" + strconv.Itoa(i+1)
}
