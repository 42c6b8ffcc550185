// Command kafka runs an in-memory Kafka broker (franz-go's kfake) on
// 127.0.0.1 for the end-to-end tests, with a small HTTP API to produce and
// read records.
//
// It prints one JSON line on stdout once ready:
//
//	{"brokers":"127.0.0.1:PORT","http":"http://127.0.0.1:PORT"}
//
// and runs until stdin is closed or it gets SIGTERM/SIGINT. With -port N
// the broker listens on that port (a broker coming back at an address a
// daemon already uses), else on a free one.
//
//	POST /produce  {"topic", "key"?, "value"}   value is any JSON; it is
//	               written as its JSON text. 204 once the broker acked.
//	GET  /records?topic=T   the topic's records, oldest first:
//	               [{"key", "value", "headers"}] (value parsed when JSON).
//
// Topics are created on first use with one partition.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kafka:", err)
		os.Exit(1)
	}
}

func run() error {
	port := flag.Int("port", 0, "broker port (0: any free one)")
	flag.Parse()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1)}
	if *port != 0 {
		opts = append(opts, kfake.Ports(*port))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	defer prod.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /produce", func(w http.ResponseWriter, r *http.Request) { produce(w, r, prod) })
	mux.HandleFunc("GET /records", func(w http.ResponseWriter, r *http.Request) { records(w, r, brokers) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	ready, _ := json.Marshal(map[string]string{"brokers": brokers[0], "http": "http://" + ln.Addr().String()})
	fmt.Println(string(ready))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
	return nil
}

type produceRequest struct {
	Topic string          `json:"topic"`
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

func produce(w http.ResponseWriter, r *http.Request, prod *kgo.Client) {
	var req produceRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Topic == "" || len(req.Value) == 0 {
		http.Error(w, "want {topic, key?, value}", http.StatusBadRequest)
		return
	}
	rec := &kgo.Record{Topic: req.Topic, Value: req.Value}
	if req.Key != "" {
		rec.Key = []byte(req.Key)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type record struct {
	Key     string            `json:"key"`
	Value   any               `json:"value"`
	Headers map[string]string `json:"headers"`
}

// records reads topic from its start up to its high watermark with a
// fresh client (no group), giving up after a second: an unknown or empty
// topic gives [].
func records(w http.ResponseWriter, r *http.Request, brokers []string) {
	topic := r.URL.Query().Get("topic")
	if topic == "" {
		http.Error(w, "want ?topic=", http.StatusBadRequest)
		return
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	out := []record{}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		done := false
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, rec := range p.Records {
				out = append(out, toRecord(rec))
			}
			if n := len(p.Records); n > 0 && p.Records[n-1].Offset+1 >= p.HighWatermark {
				done = true
			}
		})
		if done || errors.Is(fs.Err0(), context.DeadlineExceeded) {
			break
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func toRecord(rec *kgo.Record) record {
	out := record{Key: string(rec.Key), Headers: map[string]string{}}
	var v any
	if json.Unmarshal(rec.Value, &v) == nil {
		out.Value = v
	} else {
		out.Value = string(rec.Value)
	}
	for _, h := range rec.Headers {
		out.Headers[h.Key] = string(h.Value)
	}
	return out
}
