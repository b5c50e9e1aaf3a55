package wasmapi

import "fmt"

// LogLevel is the level of a log message; the numbers are those of the ABI.
type LogLevel uint32

// Log levels.
const (
	LevelError LogLevel = 0
	LevelWarn  LogLevel = 1
	LevelInfo  LogLevel = 2
	LevelDebug LogLevel = 3
	LevelTrace LogLevel = 4
)

// Log writes msg to the gadget's log at level.
func Log(level LogLevel, msg string) { gadgetLog(uint32(level), strArg(msg)) }

// ShouldLog reports whether a message at level would be shown; use it to skip formatting
// costly messages.
func ShouldLog(level LogLevel) bool { return gadgetShouldLog(uint32(level)) == 1 }

func logf(level LogLevel, format string, args ...any) {
	if len(args) == 0 {
		Log(level, format)
		return
	}
	if ShouldLog(level) {
		Log(level, fmt.Sprintf(format, args...))
	}
}

// Errorf logs at error level. The last error a gadget logs is quoted when a hook fails.
func Errorf(format string, args ...any) { logf(LevelError, format, args...) }

// Warnf logs at warning level.
func Warnf(format string, args ...any) { logf(LevelWarn, format, args...) }

// Infof logs at info level.
func Infof(format string, args ...any) { logf(LevelInfo, format, args...) }

// Debugf logs at debug level.
func Debugf(format string, args ...any) { logf(LevelDebug, format, args...) }

// Tracef logs at trace level.
func Tracef(format string, args ...any) { logf(LevelTrace, format, args...) }
