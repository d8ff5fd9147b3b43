-- Share of visits per top expression, per site and local day; a day with too few customers shows
-- neither shares nor per-expression counts (a count beside its total is a share), only its total.
SELECT
  site_id,
  local_date,
  local_weekday,
  expression,
  CASE WHEN total_tracks >= {min_tracks} THEN tracks END AS tracks,
  total_tracks,
  total_tracks < {min_tracks} AS suppressed,
  CASE WHEN total_tracks >= {min_tracks} THEN CAST(tracks AS double) / total_tracks END AS share
FROM (
  SELECT
    site_id,
    local_date,
    local_weekday,
    expression,
    count(*) AS tracks,
    CAST(sum(count(*)) OVER (PARTITION BY site_id, local_date) AS bigint) AS total_tracks
  FROM (
    SELECT
      f.site_id,
      CAST(at_timezone(f.event_time, coalesce(s.timezone, 'UTC')) AS date) AS local_date,
      day_of_week(at_timezone(f.event_time, coalesce(s.timezone, 'UTC'))) AS local_weekday,
      f.top_class AS expression
    FROM face_expression AS f
    LEFT JOIN sites AS s ON s.site_id = f.site_id
    WHERE f.kind = 'track_end' AND coalesce(f.quality.usable, true)
  ) AS local_visits
  GROUP BY site_id, local_date, local_weekday, expression
) AS mix
