-- One row per payment of an order, dated by the order's purchase.
select
    p.order_id || '-' || p.payment_sequential as payment_id,
    p.order_id,
    p.payment_type,
    cast(p.payment_installments as integer) as installments,
    cast(p.payment_value as double) as payment_value,
    cast(o.order_purchase_timestamp as timestamp) as purchased_at
from read_csv('{{ env_var("NORTHSTAR_OLIST_DIR") }}/olist_order_payments_dataset.csv', header = true, all_varchar = true) as p
join read_csv('{{ env_var("NORTHSTAR_OLIST_DIR") }}/olist_orders_dataset.csv', header = true, all_varchar = true) as o
  using (order_id)
