def fine
  1
end

class Oops
  def bad(
    x = 
