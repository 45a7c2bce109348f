package sandbox

import (
	"context"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasgi/wasgi/abi"
)

// logFuncs write to the host's structured log (abi/ABI.md, "Logging").
var logFuncs = []hostFunc{
	newHostFunc(abi.FuncLog, logFunc, "", "level", "buf", "buf_len"),
}

// maxLogLen caps one guest log message.
const maxLogLen = 8 << 10

// logFunc backs log(level, buf, len): buf[0:len], sanitised (a
// multi-line message stays one event, its lines indented: sanitizeLines)
// and cut at maxLogLen, goes to the request's logger during a call, to the app's
// logger outside one (_initialize), tagged source=guest.
func logFunc(ctx context.Context, m api.Module, stack []uint64) {
	buf := guestBytes(m, abi.FuncLog, stack[1], stack[2])
	if len(buf) > maxLogLen {
		buf = buf[:maxLogLen]
	}
	var l *zerolog.Logger
	s := stateFrom(ctx)
	switch {
	case s == nil:
		return
	case s.call != nil:
		l = &s.call.Log
	case s.log != nil:
		l = s.log
	default:
		return
	}
	var ev *zerolog.Event
	switch api.DecodeI32(stack[0]) {
	case abi.LogDebug:
		ev = l.Debug()
	case abi.LogWarn:
		ev = l.Warn()
	case abi.LogError:
		ev = l.Error()
	default:
		ev = l.Info()
	}
	ev.Str("source", "guest").Msg(sanitizeLines(buf))
}
