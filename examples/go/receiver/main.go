// Command receiver is a cronhook webhook receiver using only Go's standard library.
//
//	cd examples/go/receiver
//	CRONHOOK_SIGNING_SECRET=whsec_... PORT=9000 go run .
//
// Point a schedule's target at http://127.0.0.1:9000/ (any path works). PORT=0 picks a free
// port; the first line printed is always "listening 127.0.0.1:<port>", then one JSON line per
// request. Only binds 127.0.0.1.
//
// It verifies Standard Webhooks signatures itself: base64 HMAC-SHA256 of "id.timestamp.body"
// under the base64-decoded whsec_ secret, any of several space-separated "v1,<sig>" entries
// (secret rotation), constant-time compare, timestamp within 5 minutes either way.
//
// Deduplication keeps processed fire ids (webhook-id) in an in-memory map: per process,
// forgotten on restart. A real receiver records them in its own database, in the same
// transaction as the work, so a redelivered fire is acknowledged without being redone.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	host         = "127.0.0.1"
	maxBodyBytes = 1 << 20
	tolerance    = 5 * time.Minute
)

var timestampPattern = regexp.MustCompile(`^[0-9]{1,12}$`)

// verificationError names the header at fault and the HTTP status to answer with.
type verificationError struct {
	status int
	header string
	detail string
}

func (e *verificationError) Error() string { return e.detail }

type verifier struct{ key []byte }

func newVerifier(secret string) (*verifier, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return nil, errors.New("CRONHOOK_SIGNING_SECRET must be whsec_ followed by base64")
	}
	return &verifier{key: key}, nil
}

func (v *verifier) sign(id, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, v.key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	sum := mac.Sum(nil)
	encoded := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
	base64.StdEncoding.Encode(encoded, sum)
	return encoded
}

// verify checks the delivery and returns its webhook-id (the fire id).
func (v *verifier) verify(h http.Header, body []byte, now time.Time) (string, error) {
	for _, name := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if strings.TrimSpace(h.Get(name)) == "" {
			return "", &verificationError{400, name, fmt.Sprintf("missing required header '%s'", name)}
		}
	}
	id, ts := h.Get("webhook-id"), strings.TrimSpace(h.Get("webhook-timestamp"))
	if !timestampPattern.MatchString(ts) {
		return "", &verificationError{400, "webhook-timestamp", "malformed header 'webhook-timestamp': expected unix seconds"}
	}
	expected := v.sign(id, ts, body)
	matched := false
	for _, entry := range strings.Fields(h.Get("webhook-signature")) {
		version, sig, found := strings.Cut(entry, ",")
		if found && version == "v1" && hmac.Equal([]byte(sig), expected) {
			matched = true
		}
	}
	if !matched {
		return "", &verificationError{401, "webhook-signature", "invalid 'webhook-signature': no signature matches"}
	}
	seconds, _ := strconv.ParseInt(ts, 10, 64)
	skew := time.Unix(seconds, 0).Sub(now)
	if skew > tolerance || skew < -tolerance {
		return "", &verificationError{401, "webhook-timestamp", fmt.Sprintf("'webhook-timestamp' is %s from now, tolerance is %s", skew.Round(time.Second), tolerance)}
	}
	return id, nil
}

type receiver struct {
	verifier *verifier
	mu       sync.Mutex
	seen     map[string]bool // processed fire ids, this process only
	out      *json.Encoder
}

func (rc *receiver) emit(record map[string]any) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	_ = rc.out.Encode(record)
}

func reply(w http.ResponseWriter, status int, contentType string, body any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		reply(w, http.StatusRequestEntityTooLarge, "application/json", map[string]any{"status": 413, "detail": err.Error()})
		return
	}
	id, err := rc.verifier.verify(r.Header, body, time.Now())
	var verr *verificationError
	if errors.As(err, &verr) {
		rc.emit(map[string]any{"verified": false, "status": verr.status, "header": verr.header, "error": verr.detail})
		reply(w, verr.status, "application/problem+json", map[string]any{
			"type": "about:blank", "status": verr.status, "header": verr.header, "detail": verr.detail,
		})
		return
	}
	rc.mu.Lock()
	duplicate := rc.seen[id]
	rc.seen[id] = true // in a real receiver: only once the work has succeeded
	rc.mu.Unlock()
	var attempt any
	if n, err := strconv.Atoi(r.Header.Get("cronhook-attempt")); err == nil {
		attempt = n
	}
	var scheduleID any
	if s := r.Header.Get("cronhook-schedule-id"); s != "" {
		scheduleID = s
	}
	rc.emit(map[string]any{
		"verified": true, "status": 200, "webhook_id": id, "duplicate": duplicate,
		"schedule_id": scheduleID, "attempt": attempt, "body": string(body),
	})
	reply(w, http.StatusOK, "application/json", map[string]any{"received": id, "duplicate": duplicate})
}

func main() {
	v, err := newVerifier(os.Getenv("CRONHOOK_SIGNING_SECRET"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8000"
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening %s\n", listener.Addr())
	rc := &receiver{verifier: v, seen: map[string]bool{}, out: json.NewEncoder(os.Stdout)}
	server := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		_ = server.Close()
	}()
	if err := server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
