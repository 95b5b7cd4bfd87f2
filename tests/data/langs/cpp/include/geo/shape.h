#pragma once
#include "geo/consts.h"

namespace geo {

/// A shape with an area.
class Shape {
public:
    virtual ~Shape() = default;
    /// The area.
    virtual double area() const = 0;
};

class Circle : public Shape {
public:
    explicit Circle(double r) : radius_(r) {}
    double area() const override;
    int sides() const { return 0; }

private:
    double radius_;
};

using ShapePtr = std::unique_ptr<Shape>;

}  // namespace geo
