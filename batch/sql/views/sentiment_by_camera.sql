-- Sentiment per camera and day (visits that ended in front of that camera).
SELECT
  site_id,
  camera_id,
  date_trunc('day', event_time_ms) AS day,
  count(*) AS tracks,
  count(*) < {min_tracks} AS suppressed,
  CASE WHEN count(*) >= {min_tracks} THEN avg(valence) END AS mean_valence,
  CASE WHEN count(*) >= {min_tracks} THEN avg(
    CASE WHEN top_class IN ({positive}) THEN 1.0 WHEN top_class IN ({negative}) THEN -1.0 ELSE 0.0 END
  ) END AS net_score
FROM face_expression
WHERE kind = 'track_end' AND coalesce(quality.usable, true)
GROUP BY site_id, camera_id, date_trunc('day', event_time_ms)
