namespace Acme.Core.Models;

public class Order { }
