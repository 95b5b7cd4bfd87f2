namespace geo { constexpr double kPi = 3.14159; }
