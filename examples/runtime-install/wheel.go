package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// The local package index: offline there is no PyPI, so the example builds
// the wheel of a tiny pure-Python package, ttademo, and the local default
// template serves it to pip from a directory in each sandbox.

// demoPackage is the package the fallback path installs offline.
const (
	demoPackage = "ttademo"
	demoVersion = "1.0.0"
)

// demoWheel returns the wheel ttademo-1.0.0-py3-none-any.whl: the module,
// its metadata and the RECORD of both with their hashes.
func demoWheel() ([]byte, error) {
	info := demoPackage + "-" + demoVersion + ".dist-info/"
	files := []struct{ name, data string }{
		{demoPackage + "/__init__.py", "\"\"\"An example package, installed with pip at run time.\"\"\"\n__version__ = \"" + demoVersion + "\"\n"},
		{info + "METADATA", "Metadata-Version: 2.1\nName: " + demoPackage + "\nVersion: " + demoVersion + "\nSummary: tta example package\n"},
		{info + "WHEEL", "Wheel-Version: 1.0\nGenerator: tta-example\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, data string) error {
		f, err := zw.Create(name)
		if err != nil {
			return err
		}
		_, err = f.Write([]byte(data))
		return err
	}
	for _, f := range files {
		if err := add(f.name, f.data); err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(f.data))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.data))
	}
	record.WriteString(info + "RECORD,,\n")
	if err := add(info+"RECORD", record.String()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// localIndexSetup returns the setup commands of the local default template:
// write the wheel to ~/wheels and configure pip to install from there only
// (no index), into the sandbox's home (a user install, never the host's
// Python), and create the user site directory before the interpreter starts
// so that what pip installs there is importable at once.
func localIndexSetup() ([]string, error) {
	whl, err := demoWheel()
	if err != nil {
		return nil, err
	}
	name := demoPackage + "-" + demoVersion + "-py3-none-any.whl"
	return []string{
		`mkdir -p "$HOME/wheels" && echo ` + base64.StdEncoding.EncodeToString(whl) + ` | base64 -d > "$HOME/wheels/` + name + `"`,
		`mkdir -p "$HOME/.config/pip" && printf '[global]\nno-index = true\nfind-links = %s\n[install]\nuser = true\nbreak-system-packages = true\n' "$HOME/wheels" > "$HOME/.config/pip/pip.conf"`,
		`python3 -c 'import os, site; os.makedirs(site.getusersitepackages(), exist_ok=True)'`,
	}, nil
}
