using Acme.Core.Models;

namespace Acme.Core.Services;

public class OrderService { public void Place(Order o) { } }
