package container

import (
	"fmt"

	"github.com/boxcli/box/health"
)

// RecordHealth adds the result of a healthcheck to a running container's
// state, under its lock, so that the monitor's checks and box healthcheck
// run count in one streak. It returns the health after it, and whether the
// status changed. A container that stopped meanwhile keeps its state.
func (s *Store) RecordHealth(id string, r health.Result) (h health.State, changed bool, err error) {
	c, err := s.Get(id)
	if err != nil {
		return h, false, err
	}
	hc := c.Config.Healthcheck
	if !hc.Enabled() {
		return h, false, fmt.Errorf("container %s has no healthcheck", c.Config.Name)
	}
	_, _, _, retries := hc.Timing()
	err = s.Update(id, func(st *State) error {
		if st.Status != Running {
			return fmt.Errorf("container %s %s", c.Config.Name, st.Status)
		}
		if st.Health == nil {
			st.Health = &health.State{Status: health.Starting}
		}
		inStart := hc.StartPeriod > 0 && r.Start.Sub(st.StartedAt) < hc.StartPeriod
		changed = st.Health.Record(r, retries, inStart)
		h = *st.Health
		return nil
	})
	return h, changed, err
}
