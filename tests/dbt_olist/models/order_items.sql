-- One row per item sold, dated by its order's purchase, with the product's category.
select
    i.order_id || '-' || i.order_item_id as order_item_id,
    i.order_id,
    i.seller_id,
    coalesce(p.product_category_name, 'unknown') as product_category,
    cast(i.price as double) as price,
    cast(i.freight_value as double) as freight_value,
    cast(o.order_purchase_timestamp as timestamp) as purchased_at
from read_csv('{{ env_var("NORTHSTAR_OLIST_DIR") }}/olist_order_items_dataset.csv', header = true, all_varchar = true) as i
join read_csv('{{ env_var("NORTHSTAR_OLIST_DIR") }}/olist_orders_dataset.csv', header = true, all_varchar = true) as o
  using (order_id)
left join read_csv('{{ env_var("NORTHSTAR_OLIST_DIR") }}/olist_products_dataset.csv', header = true, all_varchar = true) as p
  using (product_id)
