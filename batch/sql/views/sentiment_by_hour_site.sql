-- Sentiment per site and hour: one row per customer visit (track_end), usable faces only.
-- Measures are NULL and `suppressed` is true below {min_tracks} tracks (privacy promise).
SELECT
  site_id,
  date_trunc('hour', event_time_ms) AS hour,
  count(*) AS tracks,
  count(*) < {min_tracks} AS suppressed,
  CASE WHEN count(*) >= {min_tracks} THEN avg(valence) END AS mean_valence,
  CASE WHEN count(*) >= {min_tracks} THEN avg(
    CASE WHEN top_class IN ({positive}) THEN 1.0 WHEN top_class IN ({negative}) THEN -1.0 ELSE 0.0 END
  ) END AS net_score
FROM face_expression
WHERE kind = 'track_end' AND coalesce(quality.usable, true)
GROUP BY site_id, date_trunc('hour', event_time_ms)
