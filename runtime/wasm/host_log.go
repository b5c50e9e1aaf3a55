package wasm

import (
	"context"
	"log/slog"

	"github.com/tetratelabs/wazero/api"
)

// levelTrace is below slog's debug level.
const levelTrace = slog.LevelDebug - 4

func abiLevel(l uint32) slog.Level {
	switch l {
	case 0:
		return slog.LevelError
	case 1:
		return slog.LevelWarn
	case 2:
		return slog.LevelInfo
	case 3:
		return slog.LevelDebug
	}
	return levelTrace
}

func init() {
	register("gadgetLog", []api.ValueType{i32, i64}, nil, func(i *Instance, mod api.Module, s []uint64) {
		msg, ok := i.str(mod, "gadgetLog", s[1])
		if !ok {
			return
		}
		lvl := abiLevel(uint32(s[0]))
		if lvl == slog.LevelError {
			i.lastErr = msg
			if i.inPhase {
				i.heldErrs = append(i.heldErrs, msg) // printed after the hook (runHook)
				return
			}
		}
		i.log.Log(context.Background(), lvl, msg, "hook", i.curHook)
	})
	register("gadgetShouldLog", []api.ValueType{i32}, []api.ValueType{i32}, func(i *Instance, _ api.Module, s []uint64) {
		s[0] = b2u(i.log.Enabled(context.Background(), abiLevel(uint32(s[0]))))
	})
}
