-- Sentiment per site and hour, with the site's local date, hour and weekday (1 Monday .. 7 Sunday).
-- One row per customer visit (track_end), usable faces only. `hour` is the instant the hour
-- starts (UTC); a local hour that happens twice (the autumn clock change) is two rows, and a local
-- day has 23, 24 or 25 of them. In a zone a half hour off UTC, local_hour is the one the hour starts in.
-- Measures are NULL and `suppressed` is true below {min_tracks} customers, and also for the fewest
-- other hours of that local day until the suppressed ones hold {min_tracks} together: the day's
-- totals minus the shown hours never give back one hidden hour (privacy promise).
-- net_low / net_high: the 95% interval the stream and the report use.
SELECT
  site_id,
  hour,
  local_date,
  local_hour,
  local_weekday,
  tracks,
  {suppressed} AS suppressed,
  CASE WHEN NOT {suppressed} THEN mean_valence END AS mean_valence,
  {net_columns}
FROM (
  SELECT
    *,
    {suppression_ranks:hour}
  FROM (
    SELECT
      h.*,
      CAST(at_timezone(h.hour, coalesce(s.timezone, 'UTC')) AS date) AS local_date,
      hour(at_timezone(h.hour, coalesce(s.timezone, 'UTC'))) AS local_hour,
      day_of_week(at_timezone(h.hour, coalesce(s.timezone, 'UTC'))) AS local_weekday
    FROM (
      SELECT
        site_id,
        date_trunc('hour', event_time) AS hour,
        count(*) AS tracks,
        count_if(top_class IN ({positive})) AS positive,
        count_if(top_class IN ({negative})) AS negative,
        avg(valence) AS mean_valence
      FROM face_expression
      WHERE kind = 'track_end' AND coalesce(quality.usable, true)
      GROUP BY site_id, date_trunc('hour', event_time)
    ) AS h
    LEFT JOIN sites AS s ON s.site_id = h.site_id
  ) AS hours
) AS ranked
