-- MetricFlow's time spine: one row per day over the data's years.
select cast(range as date) as date_day
from range(date '2016-01-01', date '2019-12-31', interval 1 day)
