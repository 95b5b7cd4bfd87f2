# frozen_string_literal: true

require "json"
require "shop/item"
require_relative "pricing"
require_relative "../missing"

module Shop
  # A shopping cart. Holds items.
  class Cart < Base
    include Enumerable

    MAX_ITEMS = 50

    # Adds an item.
    def add(item)
      @items << Item.new(item)
      Pricing.total(@items)
    end

    def self.empty
      new
    end
  end
end
