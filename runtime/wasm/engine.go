package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Options tune an Engine. Zero values take the defaults.
type Options struct {
	// CacheDir holds compiled modules across processes; "" disables the disk cache.
	CacheDir string
	// MemoryLimitMiB bounds each guest's memory (default DefaultMemoryLimitMiB, at most
	// MaxMemoryLimitMiB); Env.MemoryLimitMiB overrides it for one instance. A guest whose
	// memory.grow goes past it fails its call with an error wrapping ErrMemoryLimit.
	MemoryLimitMiB uint32
	// HookTimeout bounds each lifecycle hook (default 30s).
	HookTimeout time.Duration
	// CallbackTimeout bounds each data callback (default 2s).
	CallbackTimeout time.Duration
}

// Engine compiles and instantiates gadget modules. It is long-lived and safe for concurrent
// use; each run makes its own Instance.
type Engine struct {
	opts    Options
	runtime wazero.Runtime
	cache   wazero.CompilationCache

	mu       sync.Mutex
	compiled map[string]wazero.CompiledModule
}

// DefaultCacheDir is /var/cache/gadgetry/wasm for root, $XDG_CACHE_HOME/gadgetry/wasm (or
// ~/.cache/gadgetry/wasm) for others.
func DefaultCacheDir() string {
	if os.Geteuid() == 0 {
		return "/var/cache/gadgetry/wasm"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gadgetry", "wasm")
	}
	return filepath.Join(os.TempDir(), "gadgetry-wasm-cache")
}

// NewEngine returns an engine whose compiled modules are cached in cacheDir ("" for no disk
// cache), with default limits.
func NewEngine(cacheDir string) (*Engine, error) {
	return NewEngineWithOptions(Options{CacheDir: cacheDir})
}

// NewEngineWithOptions returns an engine configured by opts.
func NewEngineWithOptions(opts Options) (*Engine, error) {
	if opts.MemoryLimitMiB == 0 {
		opts.MemoryLimitMiB = DefaultMemoryLimitMiB
	}
	if err := checkMemoryLimit(opts.MemoryLimitMiB); err != nil {
		return nil, err
	}
	if opts.HookTimeout <= 0 {
		opts.HookTimeout = 30 * time.Second
	}
	if opts.CallbackTimeout <= 0 {
		opts.CallbackTimeout = 2 * time.Second
	}
	// wazero's own page limit stays at the 4 GiB a memory can address: each instance's
	// allocator (guestMemory) enforces the configured limit, so that a grow past it is seen.
	cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(true)
	e := &Engine{opts: opts, compiled: map[string]wazero.CompiledModule{}}
	if opts.CacheDir != "" {
		if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("wasm compilation cache: %w (set another cache directory or fix permissions)", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm compilation cache at %s: %w", opts.CacheDir, err)
		}
		e.cache = c
		cfg = cfg.WithCompilationCache(c)
	}
	ctx := context.Background()
	e.runtime = wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.runtime); err != nil {
		e.Close()
		return nil, fmt.Errorf("wasm: instantiating WASI: %w", err)
	}
	if err := instantiateHost(ctx, e.runtime); err != nil {
		e.Close()
		return nil, fmt.Errorf("wasm: instantiating host module ig: %w", err)
	}
	return e, nil
}

// Close releases the engine's runtime; instances must be closed first.
func (e *Engine) Close() error {
	err := e.runtime.Close(context.Background())
	if e.cache != nil {
		e.cache.Close(context.Background())
	}
	return err
}

// Compile compiles module, or returns the module compiled earlier under the same digest
// (sha256 of module when digest is ""). Across processes, the disk cache makes compiling the
// same module again cheap.
func (e *Engine) Compile(ctx context.Context, module []byte, digest string) (wazero.CompiledModule, error) {
	if digest == "" {
		sum := sha256.Sum256(module)
		digest = "sha256:" + hex.EncodeToString(sum[:])
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.compiled[digest]; ok {
		return c, nil
	}
	c, err := e.runtime.CompileModule(ctx, module)
	if err != nil {
		return nil, fmt.Errorf("compiling wasm module %s: %w", digest, err)
	}
	if err := checkImports(c); err != nil {
		c.Close(ctx)
		return nil, fmt.Errorf("wasm module %s: %w", digest, err)
	}
	e.compiled[digest] = c
	return c, nil
}

// checkImports rejects modules that import functions this host does not provide.
func checkImports(c wazero.CompiledModule) error {
	for _, f := range c.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case "ig":
			if _, ok := hostFuncs[name]; !ok {
				return fmt.Errorf("imports ig.%s, which this host does not provide (ABI version 1)", name)
			}
		case wasi_snapshot_preview1.ModuleName:
		default:
			return fmt.Errorf("imports %s.%s: only modules ig and %s are provided", mod, name, wasi_snapshot_preview1.ModuleName)
		}
	}
	if _, ok := c.ExportedFunctions()["gadgetAPIVersion"]; !ok {
		return fmt.Errorf("does not export gadgetAPIVersion: not a gadget module (build it with the wasmapi SDK)")
	}
	return nil
}
