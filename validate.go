package tta

import (
	"errors"
	"fmt"
	"strings"
)

// validate reports bad input as an error (never a panic: it is run-time data).
func (in CodeInput) validate() error {
	if in.Timeout < 0 {
		return fmt.Errorf("tta: CodeInput.Timeout must be >= 0, got %v; use 0 to bound the run by ctx alone", in.Timeout)
	}
	for i, f := range in.Files {
		if f.Path == "" {
			return fmt.Errorf("tta: CodeInput.Files[%d] has an empty Path; give the path to write it to in the sandbox, such as \"data.csv\"", i)
		}
	}
	for _, pkg := range in.Packages {
		if err := checkPackage(pkg); err != nil {
			return fmt.Errorf("tta: CodeInput.Packages: %w", err)
		}
	}
	return nil
}

// checkPackage reports why pkg is not an acceptable pip requirement.
func checkPackage(pkg string) error {
	switch {
	case pkg == "":
		return errors.New("package name is empty")
	case strings.HasPrefix(pkg, "-"):
		return fmt.Errorf("package %q starts with '-': pass package names, not pip options", pkg)
	}
	for _, r := range pkg {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("._-=<>!~[],*+", r)
		if !ok {
			return fmt.Errorf("package %q contains %q; use a plain pip requirement such as \"numpy==2.1.0\"", pkg, r)
		}
	}
	return nil
}
