-- One row per order, with the buyer's state and the person behind the order (customer_unique_id).
select
    o.order_id,
    o.customer_id,
    c.customer_unique_id,
    c.customer_state,
    o.order_status,
    cast(o.order_purchase_timestamp as timestamp) as purchased_at
from read_csv('{{ env_var("NORTHSTAR_OLIST_DIR") }}/olist_orders_dataset.csv', header = true, all_varchar = true) as o
join read_csv('{{ env_var("NORTHSTAR_OLIST_DIR") }}/olist_customers_dataset.csv', header = true, all_varchar = true) as c
  using (customer_id)
