module Shop
  module Pricing
    def self.total(items) = items.sum
  end
end
