package server

import (
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// NewLogger builds the daemon logger from the log config.
func NewLogger(c LogConfig) (*zap.Logger, error) {
	log, _, err := newLogger(c)
	return log, err
}

// newLogger is NewLogger, with the level a reload may change.
func newLogger(c LogConfig) (*zap.Logger, zap.AtomicLevel, error) {
	lvl, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, zap.AtomicLevel{}, fmt.Errorf("log.level: %w", err)
	}
	var zc zap.Config
	if c.Format == "json" {
		zc = zap.NewProductionConfig()
		zc.EncoderConfig.TimeKey = "ts"
		zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	} else {
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
		if isTerminal(os.Stderr) {
			zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		zc.DisableStacktrace = true
	}
	level := zap.NewAtomicLevelAt(lvl)
	zc.Level = level
	zc.Sampling = nil
	zc.OutputPaths = []string{"stderr"}
	log, err := zc.Build()
	return log, level, err
}

// isTerminal reports whether f is a terminal (colours only there, never in
// a file, a pipe or a container log).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
