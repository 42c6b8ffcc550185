package records

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/olivere/elastic/v7"
)

// DefaultElasticMaxHits is how many candidate documents a FindOne reads.
const DefaultElasticMaxHits = 32

// ElasticOptions configure an Elasticsearch (7 or 8) or OpenSearch record
// source.
type ElasticOptions struct {
	// URLs of the cluster; requests go to them in turn. Typically one URL
	// behind a load balancer. Required.
	URLs []string
	// Username and Password enable HTTP basic authentication.
	Username, Password string
	// IndexPattern maps an object name to its index with one %s (default
	// "%s"; "mb_%s" gives mb_chatmember for chatMember). The result is
	// lowercased, as index names must be.
	IndexPattern string
	// Indices names the index of individual objects (lowercased too),
	// overriding IndexPattern.
	Indices map[string]string
	// QueryTimeout bounds each search (default DefaultQueryTimeout).
	QueryTimeout time.Duration
	// HTTPClient replaces http.DefaultClient (TLS settings, proxies).
	HTTPClient *http.Client
	// MaxHits is how many matching documents FindOne reads to pick the one
	// with the smallest id (default DefaultElasticMaxHits).
	MaxHits int
}

// Elastic reads records from Elasticsearch, one index per DataObject. Only
// _search is used (ids, term and bool queries), so the same lookups run on
// Elasticsearch 7 and 8, OpenSearch and ZincSearch. Sniffing and health
// checks are off: the URLs are used as given.
//
// Documents are expected to have _id equal to their "id" field; a document
// without an "id" field gets its _id as "id". Get is an ids query. FindOne
// filters with, for each field, a term query on the field or on its
// ".keyword" subfield, so both a keyword mapping and the default dynamic
// mapping (text with a keyword subfield) find exact string values; numbers
// and booleans use their own field types. The hits are then checked in Go
// with ValueString, exactly like the other sources, and the smallest id
// among them wins. A value that cannot be of the field's type (text against
// a numeric field) matches nothing.
type Elastic struct {
	client *elastic.Client
	opts   ElasticOptions
}

var _ Source = (*Elastic)(nil)

// NewElastic creates the client. It does not contact the cluster.
func NewElastic(opts ElasticOptions) (*Elastic, error) {
	if len(opts.URLs) == 0 {
		return nil, errors.New("records: elastic: at least one URL required")
	}
	if opts.IndexPattern == "" {
		opts.IndexPattern = "%s"
	}
	if strings.Count(opts.IndexPattern, "%s") != 1 || strings.Count(opts.IndexPattern, "%") != 1 {
		return nil, fmt.Errorf("records: elastic: index pattern %q must contain exactly one %%s", opts.IndexPattern)
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	if opts.MaxHits <= 0 {
		opts.MaxHits = DefaultElasticMaxHits
	}
	opts.Indices = maps.Clone(opts.Indices)
	copts := []elastic.ClientOptionFunc{
		elastic.SetURL(opts.URLs...),
		elastic.SetSniff(false),
		elastic.SetHealthcheck(false),
	}
	if opts.Username != "" || opts.Password != "" {
		copts = append(copts, elastic.SetBasicAuth(opts.Username, opts.Password))
	}
	if opts.HTTPClient != nil {
		copts = append(copts, elastic.SetHttpClient(opts.HTTPClient))
	}
	client, err := elastic.NewClient(copts...)
	if err != nil {
		return nil, fmt.Errorf("records: elastic: %w", err)
	}
	return &Elastic{client: client, opts: opts}, nil
}

// Close releases the client.
func (e *Elastic) Close() { e.client.Stop() }

// IndexName returns the index of object.
func (e *Elastic) IndexName(object string) string {
	if name, ok := e.opts.Indices[object]; ok {
		return strings.ToLower(name)
	}
	return strings.ToLower(fmt.Sprintf(e.opts.IndexPattern, object))
}

// Get returns the document of object whose _id is id.
func (e *Elastic) Get(ctx context.Context, object, id string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("records: get %s %q: %w", object, id, err)
	}
	if id == "" {
		return nil, fmt.Errorf("records: get %s %q: %w", object, id, ErrNotFound)
	}
	recs, err := e.search(ctx, object, elastic.NewIdsQuery().Ids(id), 1)
	if err != nil {
		return nil, fmt.Errorf("records: get %s %q: %w", object, id, err)
	}
	for _, rec := range recs {
		if s, _ := ValueString(rec["id"]); s == id {
			return rec, nil
		}
	}
	return nil, fmt.Errorf("records: get %s %q: %w", object, id, ErrNotFound)
}

// FindOne returns the document of object with the smallest id whose fields
// equal every value of match.
func (e *Elastic) FindOne(ctx context.Context, object string, match map[string]string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("records: find %s: %w", object, err)
	}
	recs, err := e.search(ctx, object, matchQuery(match), e.opts.MaxHits)
	if err != nil {
		return nil, fmt.Errorf("records: find %s: %w", object, err)
	}
	var best Record
	var bestID string
	for _, rec := range recs {
		if !matches(rec, match) {
			continue
		}
		id, _ := ValueString(rec["id"])
		if best == nil || id < bestID {
			best, bestID = rec, id
		}
	}
	if best == nil {
		return nil, fmt.Errorf("records: find %s %v: %w", object, match, ErrNotFound)
	}
	return best, nil
}

// matchQuery builds the filter of a FindOne: every field must hold the value
// either in the field itself or in its keyword subfield.
func matchQuery(match map[string]string) elastic.Query {
	if len(match) == 0 {
		return elastic.NewMatchAllQuery()
	}
	q := elastic.NewBoolQuery()
	for _, field := range slices.Sorted(maps.Keys(match)) {
		v := match[field]
		q.Filter(elastic.NewBoolQuery().
			Should(elastic.NewTermQuery(field, v), elastic.NewTermQuery(field+".keyword", v)).
			MinimumShouldMatch("1"))
	}
	return q
}

// search runs one _search and decodes the hits.
func (e *Elastic) search(ctx context.Context, object string, q elastic.Query, size int) ([]Record, error) {
	qctx, cancel := context.WithTimeout(ctx, e.opts.QueryTimeout)
	defer cancel()
	res, err := e.client.Search(e.IndexName(object)).Query(q).Size(size).Do(qctx)
	if err != nil {
		return nil, e.mapErr(ctx, object, err)
	}
	if res.Hits == nil {
		return nil, nil
	}
	recs := make([]Record, 0, len(res.Hits.Hits))
	for _, hit := range res.Hits.Hits {
		rec, err := decodeRecord(hit.Source)
		if err != nil {
			return nil, fmt.Errorf("document %s: %w", hit.Id, err)
		}
		if _, ok := rec["id"]; !ok {
			rec["id"] = hit.Id
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// mapErr classifies a search error: a missing index is ErrUnknownObject, a
// query the cluster cannot build because a value does not fit the field's
// type is ErrNotFound, a canceled caller context is returned as is, and
// anything else wraps ErrUnavailable.
func (e *Elastic) mapErr(ctx context.Context, object string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var esErr *elastic.Error
	if errors.As(err, &esErr) && esErr.Details != nil {
		d := esErr.Details
		switch {
		case esErr.Status == http.StatusNotFound && d.Type == "index_not_found_exception":
			return fmt.Errorf("%w (index %s)", ErrUnknownObject, e.IndexName(object))
		case esErr.Status == http.StatusBadRequest && unmatchableValue(d):
			return fmt.Errorf("value does not fit the field type: %s: %w", d.RootCause[0].Reason, ErrNotFound)
		}
	}
	return fmt.Errorf("elastic: %w: %w", ErrUnavailable, err)
}

// unmatchableValue reports whether every root cause of a failed search is a
// query that could not be created for a field, such as a term query with
// text on a numeric or boolean field.
func unmatchableValue(d *elastic.ErrorDetails) bool {
	if len(d.RootCause) == 0 {
		return false
	}
	for _, rc := range d.RootCause {
		if rc.Type != "query_shard_exception" || !strings.HasPrefix(rc.Reason, "failed to create query") {
			return false
		}
	}
	return true
}
