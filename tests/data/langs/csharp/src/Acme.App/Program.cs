using System;
using Acme.Core.Models;
using Acme.Core.Services;
using static System.Math;

namespace Acme.App
{
    /// <summary>The program.</summary>
    public class Program : Base, IRunner
    {
        public const int Retries = 3;
        private readonly OrderService service = new OrderService();

        public string Name { get; set; }

        /// <summary>Runs it.</summary>
        public void Run(Order order)
        {
            service.Place(order);
            Console.WriteLine(Name);
        }
    }

    public interface IRunner { void Run(Order order); }

    public struct Size { public int W; }

    public enum Kind { A, B }

    public record Note(string Text);
}
