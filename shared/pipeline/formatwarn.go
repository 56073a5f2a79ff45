package pipeline

import (
	"context"
	"fmt"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/store"
)

// formatWarningSample is how many ground truths the intake reads to warn
// about a punctuation-stripping metric over formatted values: the first
// shard of train and of val, at most this many.
const formatWarningSample = 200

// formatWarning is the intake's warning event when the run's metric strips
// punctuation and its ground truths look like formatted values (dates,
// codes, numbers with separators), where that makes "2017/09/01" match
// "2017-09-01" (issue 17 item 14); nil otherwise. It reads shards only for
// such a metric.
func (p *Pipeline) formatWarning(ctx context.Context, runID string, cfg config.Run, m *dataset.Manifest) ([]store.OutboxEvent, error) {
	if !eval.StripsPunctuation(cfg.Metrics) {
		return nil, nil
	}
	var truths []string
	for _, split := range []string{dataset.Train, dataset.Val} {
		if m.Batches[split] == 0 || len(truths) >= formatWarningSample {
			continue
		}
		rc, err := p.blob.Open(ctx, p.cfg.ArtifactsBucket, blob.DataPath(runID, split, 0), 0)
		if err != nil {
			return nil, fmt.Errorf("pipeline.formatWarning: %w", err)
		}
		ex, err := dataset.ReadShard(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("pipeline.formatWarning: %w", err)
		}
		for _, e := range ex {
			if len(truths) < formatWarningSample {
				truths = append(truths, e.GroundTruth)
			}
		}
	}
	msg := eval.FormattedTruthsWarning(cfg.Metrics, truths)
	if msg == "" {
		return nil, nil
	}
	return []store.OutboxEvent{{Key: "metric-format-warning", Event: store.Event{Kind: "warning", Message: "Warning: " + msg}}}, nil
}
