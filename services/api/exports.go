package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgersync/ledgersync/pkg/activity"
	"github.com/ledgersync/ledgersync/pkg/auth"
	"github.com/ledgersync/ledgersync/pkg/export"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
)

// Exports of the record view (P23) are built in the background: the job's
// state lives in the exports bucket and the finished file in the
// export_files object store, so any api replica can report on a job and
// serve its file, and both expire after a day.

// ExportJob is one export and how far it got.
type ExportJob struct {
	ID         string                `json:"id"`
	Connection string                `json:"connection"`
	Format     string                `json:"format"`
	Filter     activity.RecordFilter `json:"filter"`
	State      string                `json:"state"` // running, done, failed
	Rows       uint64                `json:"rows"`
	Total      uint64                `json:"total"`
	Error      string                `json:"error,omitempty"`
	CreatedBy  string                `json:"created_by,omitempty"`
	CreatedAt  time.Time             `json:"created_at"`
	FinishedAt time.Time             `json:"finished_at,omitzero"`
	File       string                `json:"file,omitempty"` // download path once done
}

// WithExports lets the API build exports.
func (s *Service) WithExports(jobs jetstream.KeyValue, files jetstream.ObjectStore) *Service {
	s.exportJobs, s.exportFiles = jobs, files
	return s
}

var exportHeader = []string{"object", "record_key", "hubspot_id", "qbo_id", "status", "direction", "failure", "failure_title", "next_step", "message", "updated_at"}

func exportRow(r activity.RecordRow) []string {
	var title, next string
	if r.ErrorCode != "" {
		c := syncerr.CategoryOf(syncerr.Code(r.ErrorCode))
		title, next = c.Title, c.NextStep
	}
	return []string{r.Object, r.RecordKey, r.HubSpotID, r.QBOID, r.Status, r.Direction, r.ErrorCode, title, next, r.ErrorMessage,
		r.UpdatedAt.UTC().Format(time.RFC3339)}
}

// startExport checks the request and starts the job.
func (s *Service) startExport(ctx context.Context, conn, format string, f activity.RecordFilter, by string) (ExportJob, error) {
	if s.exportJobs == nil || s.activity == nil {
		return ExportJob{}, errors.New("exports are not enabled on this process")
	}
	if format != export.FormatCSV && format != export.FormatXLSX {
		return ExportJob{}, &auth.ValidationError{Problems: []string{fmt.Sprintf("format %q: want csv or xlsx", format)}}
	}
	if err := f.Check(); err != nil {
		return ExportJob{}, &auth.ValidationError{Problems: []string{err.Error()}}
	}
	total, err := s.activity.CountRecords(ctx, f)
	if err != nil {
		return ExportJob{}, err
	}
	job := ExportJob{ID: newExportID(), Connection: conn, Format: format, Filter: f, State: "running",
		Total: total, CreatedBy: by, CreatedAt: s.now().UTC()}
	if err := s.saveJob(ctx, job); err != nil {
		return ExportJob{}, err
	}
	go s.runExport(job)
	return job, nil
}

func (s *Service) saveJob(ctx context.Context, job ExportJob) error {
	b, _ := json.Marshal(job)
	_, err := s.exportJobs.Put(ctx, job.ID, b)
	return err
}

func (s *Service) job(ctx context.Context, id string) (ExportJob, error) {
	e, err := s.exportJobs.Get(ctx, id)
	if err != nil {
		return ExportJob{}, err
	}
	var job ExportJob
	return job, json.Unmarshal(e.Value(), &job)
}

// runExport streams the records into the file as it goes up to the object
// store, saving progress every few thousand rows.
func (s *Service) runExport(job ExportJob) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	put := make(chan error, 1)
	name := job.ID + "." + job.Format
	go func() {
		_, err := s.exportFiles.Put(ctx, jetstream.ObjectMeta{Name: name, Headers: map[string][]string{"Content-Type": {export.ContentType(job.Format)}}}, pr)
		_ = pr.CloseWithError(err)
		put <- err
	}()
	err := func() error {
		w, err := export.NewWriter(job.Format, pw)
		if err != nil {
			return err
		}
		if err := w.Row(exportHeader); err != nil {
			return err
		}
		err = s.activity.EachRecord(ctx, job.Filter, func(r activity.RecordRow) error {
			job.Rows++
			if job.Rows%5000 == 0 {
				_ = s.saveJob(ctx, job)
			}
			return w.Row(exportRow(r))
		})
		if err != nil {
			return err
		}
		return w.Close()
	}()
	_ = pw.CloseWithError(err)
	if perr := <-put; err == nil {
		err = perr
	}
	job.FinishedAt = s.now().UTC()
	if err != nil {
		s.logger.Error("export failed", "export", job.ID, "err", err)
		job.State, job.Error = "failed", "the export could not be built; see the server log"
	} else {
		job.State, job.File = "done", "/api/connections/"+job.Connection+"/exports/"+job.ID+"/file"
	}
	if err := s.saveJob(context.Background(), job); err != nil {
		s.logger.Error("save export job", "export", job.ID, "err", err)
	}
}

// createExport is POST /api/connections/{id}/exports: the record view's
// filter (as query parameters) and {"format": "csv"|"xlsx"}.
func (s *Service) createExport(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return
	}
	var req struct {
		Format string `json:"format"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION", err.Error())
		return
	}
	f, err := recordFilter(c.ID, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION", err.Error())
		return
	}
	job, err := s.startExport(r.Context(), c.ID, req.Format, f, principalOf(r.Context()).UserID)
	s.answerJob(w, job, err)
}

func (s *Service) answerJob(w http.ResponseWriter, job ExportJob, err error) {
	var ve *auth.ValidationError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, "VALIDATION", ve.Error())
	case err != nil:
		s.logger.Error("export", "err", err)
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the export could not be started; see the server log")
	default:
		writeJSON(w, http.StatusAccepted, job)
	}
}

// getExport answers a job's state.
func (s *Service) getExport(w http.ResponseWriter, r *http.Request) {
	job, ok := s.exportOf(w, r)
	if ok {
		writeJSON(w, http.StatusOK, job)
	}
}

func (s *Service) exportOf(w http.ResponseWriter, r *http.Request) (ExportJob, bool) {
	c, ok := s.connectionOf(w, r)
	if !ok {
		return ExportJob{}, false
	}
	if s.exportJobs == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "exports are not enabled on this process")
		return ExportJob{}, false
	}
	job, err := s.job(r.Context(), r.PathValue("export"))
	if err != nil || job.Connection != c.ID {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such export (exports are kept for a day)")
		return ExportJob{}, false
	}
	return job, true
}

// exportFile serves a finished export.
func (s *Service) exportFile(w http.ResponseWriter, r *http.Request) {
	job, ok := s.exportOf(w, r)
	if !ok {
		return
	}
	if job.State != "done" {
		writeError(w, http.StatusConflict, "NOT_READY", "the export is "+job.State)
		return
	}
	obj, err := s.exportFiles.Get(r.Context(), job.ID+"."+job.Format)
	if err != nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "the export file has expired")
		return
	}
	defer obj.Close()
	w.Header().Set("Content-Type", export.ContentType(job.Format))
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="records-%s-%s.%s"`, job.Connection, job.CreatedAt.Format("20060102-150405"), job.Format))
	w.Header().Set("Cache-Control", "no-store")
	if _, err := io.Copy(w, obj); err != nil {
		s.logger.Warn("serve export", "export", job.ID, "err", err)
	}
}

func newExportID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return "x" + hex.EncodeToString(b)
}
