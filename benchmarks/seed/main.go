// The Go guide's seed program, written for this course: 3 workers, 5 jobs of
// 500 ms each through a buffered channel, then close, wait and report.
// benchmarks/seed.py runs it beside `python -m pool demo` to compare walls.
package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Job carries what a worker needs: an id, a payload and the job's context.
type Job struct {
	ID      string
	Payload []byte
	Ctx     context.Context
}

func worker(id int, jobs <-chan Job, wg *sync.WaitGroup) {
	defer wg.Done() // runs when the loop ends, i.e. after close(jobs) drained
	for job := range jobs {
		fmt.Printf("Worker %d started job %s\n", id, job.ID)
		select {
		case <-time.After(500 * time.Millisecond):
		case <-job.Ctx.Done():
		}
		fmt.Printf("Worker %d finished job %s\n", id, job.ID)
	}
}

func main() {
	start := time.Now()
	jobs := make(chan Job, 100)
	var wg sync.WaitGroup
	for w := 1; w <= 3; w++ {
		wg.Add(1) // before the goroutine starts, so Wait cannot miss it
		go worker(w, jobs, &wg)
	}
	for j := 1; j <= 5; j++ {
		jobs <- Job{ID: fmt.Sprint(j), Ctx: context.Background()}
	}
	close(jobs)
	wg.Wait()
	fmt.Println("Shutdown complete")
	fmt.Printf("wall %.3f s\n", time.Since(start).Seconds())
}
