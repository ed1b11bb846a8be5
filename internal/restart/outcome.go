// outcome.go says what the answer to one DELETE or eviction means: the pod restarted,
// already gone, already replaced, blocked by a budget for now, or not restarted.

package restart

import (
	"net/http"

	"cuscon/internal/kube"
)

// outcome is what the answer to one DELETE or eviction means.
type outcome int

const (
	restarted outcome = iota // deleted or evicted (or would be, in a dry run)
	gone                     // 404: already deleted
	replaced                 // 409: the uid precondition failed, a new pod has the name
	blocked                  // 429: a disruption budget does not allow it now
	failed                   // anything else: refused, or the API was not reached
)

// outcomeOf classifies the error of a DELETE or eviction.
func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return restarted
	case kube.Code(err) == http.StatusNotFound:
		return gone
	case kube.Code(err) == http.StatusConflict:
		return replaced
	case kube.Code(err) == http.StatusTooManyRequests:
		return blocked
	}
	return failed
}

// done reports whether the pod no longer runs the old content (or soon will not).
func (o outcome) done() bool { return o == restarted || o == gone || o == replaced }
