package scan

import (
	"context"
	"time"

	"github.com/tollgate/tollgate/scanners"
)

// EngineDelayEnv names a test hook: a duration each engine waits, once its
// work is done, before it returns, so that tests can watch a long scan's
// progress on a small tree. It slows a scan down and changes nothing else.
const EngineDelayEnv = "TOLLGATE_TEST_ENGINE_DELAY"

func delayed(engines []scanners.Engine, d time.Duration) []scanners.Engine {
	out := make([]scanners.Engine, len(engines))
	for i, e := range engines {
		out[i] = delayedEngine{Engine: e, d: d}
	}
	return out
}

type delayedEngine struct {
	scanners.Engine
	d time.Duration
}

func (e delayedEngine) Scan(ctx context.Context, t *scanners.Target) (scanners.Result, error) {
	res, err := e.Engine.Scan(ctx, t)
	select {
	case <-time.After(e.d):
	case <-ctx.Done():
	}
	return res, err
}
