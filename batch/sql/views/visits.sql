-- Visits per site and local day (weekday 1 Monday): each track_end is one visit in front of one
-- camera (a customer seen by two cameras counts twice: tracks are anonymous and never linked
-- across cameras). Below {min_tracks} visits the day's means are NULL.
SELECT
  f.site_id,
  CAST(at_timezone(f.event_time, coalesce(s.timezone, 'UTC')) AS date) AS local_date,
  day_of_week(at_timezone(f.event_time, coalesce(s.timezone, 'UTC'))) AS local_weekday,
  count(*) AS visits,
  count(*) < {min_tracks} AS suppressed,
  CASE WHEN count(*) >= {min_tracks} THEN avg(f.duration_ms) / 1000.0 END AS mean_duration_s,
  CASE WHEN count(*) >= {min_tracks} THEN avg(f.valence) END AS mean_valence
FROM face_expression AS f
LEFT JOIN sites AS s ON s.site_id = f.site_id
WHERE f.kind = 'track_end'
GROUP BY 1, 2, 3
