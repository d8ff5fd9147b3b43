-- Visits per site and local day (weekday 1 Monday): each track_end is one visit in front of one
-- camera (a customer seen by two cameras counts twice: tracks are anonymous and never linked
-- across cameras). Below {min_tracks} usable faces the day's means are NULL. mean_valence is over
-- usable faces only, as in the other views: a day's visits minus its hours would otherwise give back
-- the valence of a lone unusable face, which no view shows.
SELECT
  f.site_id,
  CAST(at_timezone(f.event_time, coalesce(s.timezone, 'UTC')) AS date) AS local_date,
  day_of_week(at_timezone(f.event_time, coalesce(s.timezone, 'UTC'))) AS local_weekday,
  count(*) AS visits,
  count_if(coalesce(f.quality.usable, true)) < {min_tracks} AS suppressed,
  CASE WHEN count_if(coalesce(f.quality.usable, true)) >= {min_tracks}
    THEN avg(f.duration_ms) / 1000.0 END AS mean_duration_s,
  CASE WHEN count_if(coalesce(f.quality.usable, true)) >= {min_tracks}
    THEN avg(CASE WHEN coalesce(f.quality.usable, true) THEN f.valence END) END AS mean_valence
FROM face_expression AS f
LEFT JOIN sites AS s ON s.site_id = f.site_id
WHERE f.kind = 'track_end'
GROUP BY 1, 2, 3
