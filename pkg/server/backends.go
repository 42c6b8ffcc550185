package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/records"
)

// backends are the storage services the daemon opened; close releases
// them in reverse order.
type backends struct {
	store   msgstore.Store
	records records.Source
	// embedded is set when records come from the records directory, which
	// a reload re-reads.
	embedded *records.Embedded
	closers  []func()
}

func (b *backends) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

// openBackends opens the message store and the record source the
// configuration names; with nothing configured, the embedded ones (the
// records directory read by the plan). onCommit receives the message
// store's group commits (metrics).
func openBackends(ctx context.Context, cfg Config, embedded *records.Embedded, log *zap.Logger, onCommit msgstore.CommitObserver) (*backends, error) {
	b := &backends{}
	fail := func(err error) (*backends, error) {
		b.close()
		return nil, err
	}

	switch cfg.RecordSource.Kind {
	case "postgres":
		src, err := records.NewPostgres(ctx, records.PostgresOptions{
			DSN: cfg.Postgres.DSN, TablePattern: cfg.RecordSource.TablePattern, Tables: cfg.RecordSource.Tables,
			Schema: cfg.RecordSource.Schema, QueryTimeout: cfg.RecordSource.QueryTimeout,
		})
		if err != nil {
			return fail(fmt.Errorf("records: %w", err))
		}
		b.records = src
		b.closers = append(b.closers, src.Close)
	case "elasticsearch":
		es := cfg.RecordSource.Elasticsearch
		src, err := records.NewElastic(records.ElasticOptions{
			URLs: es.URLs, Username: es.Username, Password: es.Password,
			IndexPattern: es.IndexPattern, Indices: es.Indices, QueryTimeout: cfg.RecordSource.QueryTimeout,
		})
		if err != nil {
			return fail(fmt.Errorf("records: %w", err))
		}
		b.records = src
		b.closers = append(b.closers, src.Close)
	default:
		b.records, b.embedded = embedded, embedded
	}

	usePG := cfg.Store == "postgres" || (cfg.Store == "auto" && cfg.Postgres.DSN != "")
	if usePG {
		st, err := msgstore.OpenPostgres(ctx, msgstore.PostgresOptions{
			DSN: cfg.Postgres.DSN, Schema: cfg.Postgres.Schema, MaxConns: cfg.Postgres.MaxConns,
			WriteTimeout: cfg.Postgres.WriteTimeout, MaxBatch: cfg.Postgres.MaxBatch, Logger: log,
			Outbox: len(cfg.Kafka.Brokers) > 0, OnCommit: onCommit,
		})
		if err != nil {
			return fail(fmt.Errorf("message store: %w", err))
		}
		b.store = st
		log.Named("msgstore").Info("message store: postgres", zap.String("schema", cfg.Postgres.Schema))
	} else {
		if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
			return fail(fmt.Errorf("data dir: %w", err))
		}
		st, err := msgstore.OpenEmbedded(filepath.Join(cfg.Data, "messages.db"), msgstore.EmbeddedOptions{
			Logger: log, Outbox: len(cfg.Kafka.Brokers) > 0, OnCommit: onCommit,
		})
		if err != nil {
			return fail(fmt.Errorf("message store: %w", err))
		}
		b.store = st
		log.Named("msgstore").Info("message store: embedded", zap.String("path", st.Path()))
	}
	b.closers = append(b.closers, func() {
		if err := b.store.Close(); err != nil {
			log.Named("msgstore").Warn("close message store", zap.Error(err))
		}
	})
	return b, nil
}
