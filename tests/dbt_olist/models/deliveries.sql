-- One row per delivered order: the event a purchase converts to.
select
    order_id,
    customer_id,
    cast(order_delivered_customer_date as timestamp) as delivered_at
from read_csv('{{ env_var("NORTHSTAR_OLIST_DIR") }}/olist_orders_dataset.csv', header = true, all_varchar = true)
where order_delivered_customer_date is not null and order_delivered_customer_date <> ''
