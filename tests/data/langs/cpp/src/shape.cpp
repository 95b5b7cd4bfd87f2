// Shapes and their areas.
#include "geo/shape.h"
#include <vector>

namespace geo {

/// Area of a circle.
double Circle::area() const {
    return kPi * radius_ * radius_;
}

template <typename T>
T clamp(T v, T lo, T hi) {
    return std::max(lo, std::min(v, hi));
}

}  // namespace geo
