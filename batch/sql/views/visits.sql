-- Visits per site and day: each track_end is one visit in front of one camera (a customer seen
-- by two cameras counts twice: tracks are anonymous and never linked across cameras).
SELECT
  site_id,
  date_trunc('day', event_time_ms) AS day,
  count(*) AS visits,
  count(*) < {min_tracks} AS suppressed,
  CASE WHEN count(*) >= {min_tracks} THEN avg(duration_ms) / 1000.0 END AS mean_duration_s,
  CASE WHEN count(*) >= {min_tracks} THEN avg(valence) END AS mean_valence
FROM face_expression
WHERE kind = 'track_end'
GROUP BY site_id, date_trunc('day', event_time_ms)
