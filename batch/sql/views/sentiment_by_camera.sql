-- Sentiment per camera and local day (visits that ended in front of that camera), weekday 1 Monday.
-- Measures are NULL and `suppressed` is true below {min_tracks} customers, and also for the fewest
-- other cameras of that site and day until the suppressed ones hold {min_tracks} together: the
-- site's day minus the shown cameras never gives back one hidden camera. net_low / net_high: 95% interval.
SELECT
  site_id,
  camera_id,
  local_date,
  local_weekday,
  tracks,
  {suppressed} AS suppressed,
  CASE WHEN NOT {suppressed} THEN mean_valence END AS mean_valence,
  {net_columns}
FROM (
  SELECT
    *,
    {suppression_ranks:camera_id}
  FROM (
    SELECT
      f.site_id,
      f.camera_id,
      CAST(at_timezone(f.event_time, coalesce(s.timezone, 'UTC')) AS date) AS local_date,
      day_of_week(at_timezone(f.event_time, coalesce(s.timezone, 'UTC'))) AS local_weekday,
      count(*) AS tracks,
      count_if(f.top_class IN ({positive})) AS positive,
      count_if(f.top_class IN ({negative})) AS negative,
      avg(f.valence) AS mean_valence
    FROM face_expression AS f
    LEFT JOIN sites AS s ON s.site_id = f.site_id
    WHERE f.kind = 'track_end' AND coalesce(f.quality.usable, true)
    GROUP BY 1, 2, 3, 4
  ) AS cameras
) AS ranked
