-- Share of visits per top expression, per site and day; shares NULL when the day has too few.
SELECT
  site_id,
  day,
  expression,
  tracks,
  total_tracks,
  total_tracks < {min_tracks} AS suppressed,
  CASE WHEN total_tracks >= {min_tracks} THEN CAST(tracks AS double) / total_tracks END AS share
FROM (
  SELECT
    site_id,
    date_trunc('day', event_time_ms) AS day,
    top_class AS expression,
    count(*) AS tracks,
    sum(count(*)) OVER (PARTITION BY site_id, date_trunc('day', event_time_ms)) AS total_tracks
  FROM face_expression
  WHERE kind = 'track_end' AND coalesce(quality.usable, true)
  GROUP BY site_id, date_trunc('day', event_time_ms), top_class
) AS mix
