package health

import "time"

// Statuses of State, as Docker names them.
const (
	Starting  = "starting"
	Healthy   = "healthy"
	Unhealthy = "unhealthy"
)

// State is a container's health, as docker inspect shows .State.Health.
type State struct {
	Status        string   `json:"Status"`
	FailingStreak int      `json:"FailingStreak"`
	Log           []Result `json:"Log"`
}

// Result is one check's outcome. ExitCode is the command's (0 healthy),
// or -1 when it could not run or ran out of time.
type Result struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// Reset is the state of a container that just started: checks begin
// again from starting, and the old results stay for reading.
func (s *State) Reset() {
	s.Status, s.FailingStreak = Starting, 0
}

// Record adds r to the state and says whether the status changed. A
// failure within the start period does not count against the retries
// while the container has never been healthy, as in Docker; a success
// always counts.
func (s *State) Record(r Result, retries int, inStartPeriod bool) (changed bool) {
	old := s.Status
	if s.Status == "" {
		s.Status = Starting
	}
	if r.ExitCode == 0 {
		s.FailingStreak, s.Status = 0, Healthy
	} else if !(inStartPeriod && s.Status == Starting) {
		s.FailingStreak++
		if s.FailingStreak >= retries {
			s.Status = Unhealthy
		}
	}
	if len(r.Output) > MaxOutput {
		r.Output = r.Output[:MaxOutput]
	}
	s.Log = append(s.Log, r)
	if n := len(s.Log); n > MaxLog {
		s.Log = append([]Result(nil), s.Log[n-MaxLog:]...)
	}
	return s.Status != old
}
