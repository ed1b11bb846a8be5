// health.go says whether a workload is healthy again after a restart, kind by kind, from
// its own status as the API server's controllers write it (what `kubectl rollout status`
// reads), and, for a restart that deleted or evicted pods, from its pods.

package waves

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
)

// Health is how a workload stands after a restart.
type Health int

const (
	Progressing Health = iota // not healthy yet
	Healthy                   // the rollout completed; its pods are available
	Failed                    // it will not get healthy by waiting (a rollout past its deadline, a failed Job)
)

func (h Health) String() string { return [...]string{"progressing", "healthy", "failed"}[h] }

// Status is a workload's health and, unless it is healthy, why.
type Status struct {
	Health Health
	Reason string
}

// Observed is the part of a workload that its health is read from, for every kind: JSON
// as the API serves the object (metadata.generation, spec, status).
type Observed struct {
	Metadata struct {
		Generation int64 `json:"generation"`
	} `json:"metadata"`
	Spec struct {
		Replicas       *int32 `json:"replicas"`
		UpdateStrategy struct {
			Type          string `json:"type"`
			RollingUpdate *struct {
				Partition *int32 `json:"partition"`
			} `json:"rollingUpdate"`
		} `json:"updateStrategy"`
	} `json:"spec"`
	Status struct {
		// ObservedGeneration is a number, but a string in an Argo Rollout's status.
		ObservedGeneration generation `json:"observedGeneration"`
		Replicas           int32      `json:"replicas"`
		UpdatedReplicas    int32      `json:"updatedReplicas"`
		ReadyReplicas      int32      `json:"readyReplicas"`
		AvailableReplicas  int32      `json:"availableReplicas"`
		CurrentRevision    string     `json:"currentRevision"`
		UpdateRevision     string     `json:"updateRevision"`
		Desired            int32      `json:"desiredNumberScheduled"`
		UpdatedScheduled   int32      `json:"updatedNumberScheduled"`
		NumberAvailable    int32      `json:"numberAvailable"`
		Phase              string     `json:"phase"`
		Message            string     `json:"message"`
		Conditions         []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Reason string `json:"reason"`
		} `json:"conditions"`
	} `json:"status"`
}

// generation reads a number, or a string that holds one (an Argo Rollout's); known is
// false for anything else (older Rollouts wrote a hash there).
type generation struct {
	n     int64
	known bool
}

func (g *generation) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		n, err := strconv.ParseInt(s, 10, 64)
		*g = generation{n, err == nil}
		return nil
	}
	var n int64
	err := json.Unmarshal(b, &n)
	*g = generation{n, err == nil}
	return nil // unreadable: not known, which is not an error of the whole object
}

// condition reports whether o carries condition typ with status "True", and its reason.
func (o *Observed) condition(typ string) (reason string, ok bool) {
	for _, c := range o.Status.Conditions {
		if c.Type == typ && c.Status == "True" {
			return c.Reason, true
		}
	}
	return "", false
}

// replicas is spec.replicas, 1 when it is not set (the API's default).
func (o *Observed) replicas() int32 {
	if o.Spec.Replicas == nil {
		return 1
	}
	return *o.Spec.Replicas
}

// HealthOf is a workload's health after a restart that rolled it: a Deployment whose
// rollout completed (its controller observed the new template, every replica updated
// and available, none of the old left); a StatefulSet at its update revision with every
// replica ready (up to its partition); a DaemonSet updated and available on every node
// (with OnDelete, which replaces no pod, ready and available is enough);
// an Argo Rollout in phase Healthy; a Job complete. A Deployment past its progress
// deadline, a Degraded Rollout and a failed Job have failed. A CronJob is healthy at
// once: its restart is a Job run now, which the next wave does not wait for.
func HealthOf(kind string, o *Observed) Status {
	st := &o.Status
	observed := st.ObservedGeneration.n >= o.Metadata.Generation
	want := o.replicas()
	switch kind {
	case "Deployment":
		if r, ok := failedProgress(o); ok && observed { // a deadline passed before the new template is stale
			return Status{Failed, r}
		}
		switch {
		case !observed:
			return Status{Progressing, "its controller has not observed the new template yet"}
		case st.UpdatedReplicas < want:
			return Status{Progressing, fmt.Sprintf("%d of %d replicas updated", st.UpdatedReplicas, want)}
		case st.Replicas > st.UpdatedReplicas:
			return Status{Progressing, fmt.Sprintf("%d old replicas are still running", st.Replicas-st.UpdatedReplicas)}
		case st.AvailableReplicas < want:
			return Status{Progressing, fmt.Sprintf("%d of %d updated replicas available", st.AvailableReplicas, want)}
		}
	case "StatefulSet":
		partition := int32(0)
		if ru := o.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
			partition = *ru.Partition
		}
		switch {
		case !observed:
			return Status{Progressing, "its controller has not observed the new template yet"}
		case o.Spec.UpdateStrategy.Type != "OnDelete" && partition == 0 && st.CurrentRevision != st.UpdateRevision:
			return Status{Progressing, fmt.Sprintf("%d of %d replicas at the update revision", st.UpdatedReplicas, want)}
		case o.Spec.UpdateStrategy.Type != "OnDelete" && st.UpdatedReplicas < want-partition:
			return Status{Progressing, fmt.Sprintf("%d of %d replicas updated (partition %d)", st.UpdatedReplicas, want-partition, partition)}
		case st.ReadyReplicas < want:
			return Status{Progressing, fmt.Sprintf("%d of %d replicas ready", st.ReadyReplicas, want)}
		}
	case "DaemonSet":
		switch {
		case !observed:
			return Status{Progressing, "its controller has not observed the new template yet"}
		case o.Spec.UpdateStrategy.Type != "OnDelete" && st.UpdatedScheduled < st.Desired:
			return Status{Progressing, fmt.Sprintf("%d of %d nodes updated", st.UpdatedScheduled, st.Desired)}
		case st.NumberAvailable < st.Desired:
			return Status{Progressing, fmt.Sprintf("%d of %d nodes available", st.NumberAvailable, st.Desired)}
		}
	case "Rollout":
		switch {
		case st.ObservedGeneration.known && !observed: // its phase is of the old spec until then
			return Status{Progressing, "its controller has not observed the new spec yet"}
		}
		switch st.Phase {
		case "Healthy":
		case "Degraded":
			return Status{Failed, "Degraded: " + st.Message}
		default:
			return Status{Progressing, "phase " + cmp.Or(st.Phase, "unknown") + ": " + st.Message}
		}
	case "Job":
		if _, ok := o.condition("Failed"); ok {
			return Status{Failed, "the Job failed"}
		}
		if _, ok := o.condition("Complete"); !ok {
			return Status{Progressing, "the Job has not completed"}
		}
	}
	return Status{Health: Healthy}
}

// failedProgress reports a Deployment past its progress deadline.
func failedProgress(o *Observed) (string, bool) {
	for _, c := range o.Status.Conditions {
		if c.Type == "Progressing" && c.Status == "False" && c.Reason == "ProgressDeadlineExceeded" {
			return "its rollout exceeded its progress deadline", true
		}
	}
	return "", false
}

// PodState is what the health of a restart by deletion or eviction reads of one pod.
type PodState struct {
	Terminating, Ready bool
}

// PodsHealth is the health of a workload whose pods were deleted or evicted: healthy
// once none is terminating and want of them are Ready (the replacements).
func PodsHealth(pods []PodState, want int32) Status {
	var terminating, ready int32
	for _, p := range pods {
		switch {
		case p.Terminating:
			terminating++
		case p.Ready:
			ready++
		}
	}
	switch {
	case terminating > 0:
		return Status{Progressing, fmt.Sprintf("%d pods still terminating", terminating)}
	case ready < want:
		return Status{Progressing, fmt.Sprintf("%d of %d replacement pods ready", ready, want)}
	}
	return Status{Health: Healthy}
}

// Want is how many pods a workload of kind wants (spec.replicas; a DaemonSet's desired
// number scheduled).
func Want(kind string, o *Observed) int32 {
	if kind == "DaemonSet" {
		return o.Status.Desired
	}
	return o.replicas()
}
