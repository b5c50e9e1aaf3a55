// Package sdk gives gadget authors the guest SDK (github.com/gadgetry/gadgetry/wasmapi) that
// is compiled into this binary, as a local Go module: no module proxy, no network and no
// Gadgetry checkout are needed to build a gadget's WASM module.
//
// The SDK's source is written once per content into the user's cache directory
// ($XDG_CACHE_HOME/gadgetry/sdk/wasmapi@VERSION-HASH), and a build that needs it uses a
// temporary go.work naming the gadget's module and that directory. The gadget's own go.mod
// only requires the SDK by version, as it would a published module. docs/RATIONALE.md ("How an
// author gets the SDK") says why.
package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"

	"github.com/gadgetry/gadgetry/wasmapi"
)

// Module is the SDK's module path.
const Module = "github.com/gadgetry/gadgetry/wasmapi"

// Version is the version of the SDK compiled into this binary.
const Version = wasmapi.Version

// GoVersion is the go directive of the SDK's go.mod: the oldest Go language version a gadget
// module using it can declare without the workspace raising it.
func GoVersion() string {
	data, err := fs.ReadFile(wasmapi.Source, "go.mod")
	if err != nil {
		return ""
	}
	f, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil || f.Go == nil {
		return ""
	}
	return f.Go.Version
}

// files returns the SDK's files to write, tests left out, in name order.
func files() (map[string][]byte, []string, error) {
	out := map[string][]byte{}
	var names []string
	entries, err := fs.ReadDir(wasmapi.Source, ".")
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasSuffix(n, "_test.go") {
			continue
		}
		b, err := fs.ReadFile(wasmapi.Source, n)
		if err != nil {
			return nil, nil, err
		}
		out[n] = b
		names = append(names, n)
	}
	sort.Strings(names)
	return out, names, nil
}

// contentHash identifies the SDK's files: two gadgetry binaries with the same Version but
// different SDK sources (a development build) use different directories.
func contentHash(content map[string][]byte, names []string) string {
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(content[n]))
		h.Write(content[n])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// CacheRoot is where SDK copies are written: $GADGETRY_SDK_CACHE when set, else
// gadgetry/sdk under the user's cache directory, else under the temporary directory.
func CacheRoot() string {
	if d := os.Getenv("GADGETRY_SDK_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gadgetry", "sdk")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("gadgetry-sdk-%d", os.Getuid()))
}

// Dir writes the SDK into CacheRoot (unless an identical copy is there) and returns the
// module's directory. A copy whose files were changed or removed is written again.
func Dir() (string, error) {
	content, names, err := files()
	if err != nil {
		return "", fmt.Errorf("reading the SDK embedded in gadgetry: %w", err)
	}
	root := CacheRoot()
	dir := filepath.Join(root, "wasmapi@"+Version+"-"+contentHash(content, names))
	if same(dir, content, names) {
		return dir, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("writing the wasmapi SDK: %w (set GADGETRY_SDK_CACHE to a writable directory)", err)
	}
	tmp, err := os.MkdirTemp(root, ".wasmapi-")
	if err != nil {
		return "", fmt.Errorf("writing the wasmapi SDK: %w (set GADGETRY_SDK_CACHE to a writable directory)", err)
	}
	defer os.RemoveAll(tmp)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(tmp, n), content[n], 0o444); err != nil {
			return "", fmt.Errorf("writing the wasmapi SDK: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o555); err != nil {
		return "", fmt.Errorf("writing the wasmapi SDK: %w", err)
	}
	// A damaged copy is moved aside (its files are read-only, so it is removed with its
	// directory made writable first), then the new one renamed into place. Another build
	// racing this one may have put an identical copy there first: that one is kept.
	if _, err := os.Stat(dir); err == nil {
		old := dir + ".old-" + filepath.Base(tmp)
		if err := os.Rename(dir, old); err == nil {
			os.Chmod(old, 0o755)
			os.RemoveAll(old)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.Chmod(tmp, 0o755)
		if same(dir, content, names) {
			return dir, nil
		}
		return "", fmt.Errorf("writing the wasmapi SDK into %s: %w", dir, err)
	}
	return dir, nil
}

// same reports whether dir holds exactly the given files.
func same(dir string, content map[string][]byte, names []string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != len(names) {
		return false
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || string(b) != string(content[n]) {
			return false
		}
	}
	return true
}

// Use says how a gadget's Go module gets the SDK.
type Use struct {
	// Required is the SDK version the module's go.mod requires; empty when it does not use
	// the SDK.
	Required string
	// Version is the SDK version the module is built with: this binary's Version when the
	// SDK is supplied, the replaced directory's version otherwise; empty when unknown.
	Version string
	// Replace is the module's own replace target for the SDK (a directory or module); empty
	// when it has none.
	Replace string
	// Supplied is true when the build must supply the SDK (a workspace with Dir()).
	Supplied bool
	// GoVersion is the go directive of the module's go.mod.
	GoVersion string
}

// Resolve reads modDir/go.mod and decides how the module gets the SDK: a module that
// requires it without a replace directive or a vendor directory is given this binary's copy,
// which must be at least as new as the required version and of the same major version.
func Resolve(modDir string) (Use, error) {
	path := filepath.Join(modDir, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return Use{}, err
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		return Use{}, err
	}
	var u Use
	if f.Go != nil {
		u.GoVersion = f.Go.Version
	}
	for _, r := range f.Require {
		if r.Mod.Path == Module {
			u.Required = r.Mod.Version
		}
	}
	if u.Required == "" {
		return u, nil
	}
	for _, r := range f.Replace {
		if r.Old.Path != Module || (r.Old.Version != "" && r.Old.Version != u.Required) {
			continue
		}
		if r.New.Version != "" {
			u.Replace = r.New.Path + " " + r.New.Version
			if r.New.Path == Module {
				u.Version = r.New.Version
			}
			return u, nil
		}
		u.Replace = r.New.Path
		dir := r.New.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(modDir, dir)
		}
		u.Version = versionIn(dir)
		return u, nil
	}
	if _, err := os.Stat(filepath.Join(modDir, "vendor", "modules.txt")); err == nil {
		u.Version = u.Required
		return u, nil
	}
	if semver.Major(u.Required) != semver.Major(Version) || semver.Compare(u.Required, Version) > 0 {
		return Use{}, fmt.Errorf("%s requires %s %s, but this gadgetry provides %s: upgrade gadgetry, or add `replace %s => DIR` for a checkout of that SDK", path, Module, u.Required, Version, Module)
	}
	u.Version = Version
	u.Supplied = true
	return u, nil
}

// versionIn reads the Version constant of an SDK checkout; empty when it has none.
func versionIn(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "version.go"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "const Version = "); ok {
			return strings.Trim(rest, "\"")
		}
	}
	return ""
}

// Workspace writes go.work into dir: the gadget's module at modDir and the SDK's directory,
// with the newer of the two go versions. GOWORK=<dir>/go.work then builds modDir with the
// SDK.
func Workspace(dir, modDir string, u Use) (string, error) {
	sdkDir, err := Dir()
	if err != nil {
		return "", err
	}
	absMod, err := filepath.Abs(modDir)
	if err != nil {
		return "", err
	}
	goVersion := GoVersion()
	if u.GoVersion != "" && (goVersion == "" || compareGo(u.GoVersion, goVersion) > 0) {
		goVersion = u.GoVersion
	}
	if goVersion == "" {
		return "", errors.New("the SDK embedded in gadgetry has no go directive")
	}
	work := fmt.Sprintf("go %s\n\nuse (\n\t%s\n\t%s\n)\n", goVersion, quote(absMod), quote(sdkDir))
	p := filepath.Join(dir, "go.work")
	if err := os.WriteFile(p, []byte(work), 0o644); err != nil {
		return "", err
	}
	return p, nil
}

// quote quotes a go.work path when it has characters the file's syntax does not allow bare.
func quote(p string) string {
	if strings.ContainsAny(p, " \t\"'`()\\") {
		return modfile.AutoQuote(p)
	}
	return p
}

// compareGo compares Go versions such as "1.23" and "1.24.1".
func compareGo(a, b string) int {
	return semver.Compare("v"+a, "v"+b)
}

// SetRequirement sets the SDK requirement in modDir/go.mod to Version, keeping the rest of the
// file as written.
func SetRequirement(modDir string) error {
	path := filepath.Join(modDir, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		return err
	}
	if err := f.AddRequire(Module, Version); err != nil {
		return err
	}
	out, err := f.Format()
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}
